"""Tests of sheet reading: header search, row numbers, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers.sheets import read_records


def test_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path: Path, write_xlsx) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", [["title"], None, ["Subject", None, "Filename"],
                                            ["1", None, "a"], None, ["2", "x", "b"]])
    records = read_records(path, ["Subject", "Filename"])
    assert records == [(4, {"Subject": "1", "Filename": "a"}),
                       (6, {"Subject": "2", "Filename": "b"})]


def test_csv_rows_are_numbered_from_the_header(tmp_path: Path, write_csv) -> None:
    path = write_csv(tmp_path / "s.csv", [["Subject", "Filename"], ["1", "a"], ["2", "b"]])
    assert [row for row, _ in read_records(path, ["Subject", "Filename"])] == [2, 3]


def test_missing_header_is_rejected(tmp_path: Path, write_xlsx) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", [["Name", "Clip"], ["1", "a"]])
    with pytest.raises(DataError, match=r"s\.xlsx: no header row with columns Subject, Filename"):
        read_records(path, ["Subject", "Filename"])


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"none\.xlsx: annotation file not found"):
        read_records(tmp_path / "none.xlsx", ["Subject"])


def test_file_that_is_not_a_workbook_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "fake.xlsx").write_text("Subject,Filename\n")
    with pytest.raises(DataError, match=r"fake\.xlsx: not a readable \.xlsx workbook"):
        read_records(tmp_path / "fake.xlsx", ["Subject"])
