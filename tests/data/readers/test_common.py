"""Tests of the rules every reader shares (mer.data.readers.common)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers import Dropped, ReaderPolicy, ReadResult, casme2
from mer.data.readers.common import DROPPED_SCHEMA, cell_text, parse_frame
from mer.data.schema import empty_clip_table

HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
          "Action Units", "Estimated Emotion"]


def test_policy_is_frozen_and_checked() -> None:
    assert ReaderPolicy().on_defect == "drop"
    with pytest.raises(ValueError, match="on_defect must be 'drop', 'fail' or 'estimate_apex'"):
        ReaderPolicy(on_defect="ignore")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        ReaderPolicy().on_defect = "fail"  # type: ignore[misc]


@pytest.mark.parametrize(("value", "number"), [(46, 46), (46.0, 46), (" 46 ", 46), ("", None),
                                               (None, None)])
def test_parse_frame_accepts_numbers_and_digit_text(value: object, number: int | None) -> None:
    assert parse_frame(value, "s.xlsx row 2", "onset") == number


@pytest.mark.parametrize("value", ["4a", 4.5, -1, 2**31, True, "/"])
def test_parse_frame_rejects_anything_else(value: object) -> None:
    with pytest.raises(DataError, match=r"s\.xlsx row 2: onset .* is not a frame number"):
        parse_frame(value, "s.xlsx row 2", "onset")


def test_cell_text_keeps_the_code_as_written() -> None:
    assert [cell_text(v) for v in (12, 12.0, " 4+L10 ", "", None)] == ["12", "12", "4+L10",
                                                                        None, None]


def test_dropped_table_has_the_dropped_schema() -> None:
    dropped = Dropped("casme2", "sub04_EP12_01f", "s.xlsx", 31, "apex missing")
    result = ReadResult(empty_clip_table(), [dropped])
    table = result.dropped_table()
    assert table.schema == DROPPED_SCHEMA and table.to_pylist()[0]["source_row"] == 31


def _sheet(tmp_path: Path, write_xlsx, *rows: list[object]) -> Path:
    return write_xlsx(tmp_path / "coding.xlsx", [HEADER, *rows])


def test_duplicate_clip_names_both_rows(tmp_path: Path, write_xlsx) -> None:
    path = _sheet(tmp_path, write_xlsx, [1, "EP02_01f", None, 1, 2, 3, None, 12, "happiness"],
                  [1, "EP02_01f", None, 5, 6, 7, None, 12, "happiness"])
    with pytest.raises(DataError, match=r"coding\.xlsx row 3: duplicate clip 'sub01_EP02_01f' "
                                        r"\(also at .*coding\.xlsx row 2\)"):
        casme2.read_annotations(path)


def test_sheet_with_no_clip_rows_is_an_empty_corpus(tmp_path: Path, write_xlsx) -> None:
    path = _sheet(tmp_path, write_xlsx)
    with pytest.raises(DataError, match=r"coding\.xlsx: no clip rows found: empty casme2 corpus"):
        casme2.read_annotations(path)


@pytest.mark.parametrize("name", ["../EP02_01f", "..", "/etc/EP02_01f", "C:\\EP02", "a/b"])
def test_filename_that_could_leave_the_root_is_rejected(tmp_path: Path, write_xlsx,
                                                        name: str) -> None:
    path = _sheet(tmp_path, write_xlsx, [1, name, None, 1, 2, 3, None, 12, "happiness"])
    with pytest.raises(DataError, match=r"coding\.xlsx row 2: Filename .* is not a plain name"):
        casme2.read_annotations(path)


def test_blank_onset_names_file_and_row(tmp_path: Path, write_xlsx) -> None:
    path = _sheet(tmp_path, write_xlsx, [1, "EP02_01f", None, None, 2, 3, None, 12, "happiness"])
    with pytest.raises(DataError, match=r"coding\.xlsx row 2: onset frame is blank"):
        casme2.read_annotations(path)


def test_offset_before_onset_is_a_known_defect(tmp_path: Path, write_xlsx) -> None:
    path = _sheet(tmp_path, write_xlsx, [1, "EP02_01f", None, 9, None, 3, None, 12, "happiness"],
                  [1, "EP02_02f", None, 9, 9, 3, None, 12, "happiness"])
    result = casme2.parse(path)
    assert [d.reason for d in result.dropped] == [
        "apex is missing (None): known defect", "offset 3 before onset 9: known defect"]
