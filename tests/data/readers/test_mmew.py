"""Tests of the MMEW reader: the real derived CSV and fixtures with and without label columns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers import mmew, read_corpus

SHEET = "mmew/MMEW_Micro_Exp_delete_others.csv"
OFFICIAL = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
            "Estimated Emotion", "remarks"]


def test_real_csv_has_234_rows_of_30_subjects(real_sheet) -> None:
    result = mmew.parse(real_sheet(SHEET))
    table = result.table
    assert table.num_rows == 234 and result.dropped == []
    assert len(set(table["subject"].to_pylist())) == 30
    assert Counter(table["emotion"].to_pylist()) == Counter({
        "surprise": 89, "disgust": 72, "happiness": 36, "fear": 16, "sadness": 13, "anger": 8})
    first = table.to_pylist()[0]
    assert (first["subject"], first["clip"], first["source_row"]) == ("S01", "S01-01-001", 2)


@pytest.mark.parametrize("extra", [[], ["label", "one_hot_label", "imagename"]])
def test_official_and_derived_columns_both_read(tmp_path: Path, write_csv, make_clip,
                                                extra: list[str]) -> None:
    sheet = write_csv(tmp_path / "mmew.csv", [
        OFFICIAL + extra,
        [1, "S01-01-001", 1, 15, 31, "6+12", "happiness", ""] + ["1", "x", "y"][: len(extra)],
    ])
    root = tmp_path / "Micro_Expression"
    make_clip(root / "happiness" / "S01-01-001", range(1, 40), pattern="{}.jpg")
    row, = read_corpus("mmew", root, sheet).table.to_pylist()
    assert row["frame_numbers"] == list(range(1, 32))
    assert row["frames"][14] == "happiness/S01-01-001/15.jpg"
    assert (row["fps"], row["label"], row["action_units"]) == (90.0, "positive", "6+12")


def test_unknown_emotion_names_file_and_row(tmp_path: Path, write_csv) -> None:
    sheet = write_csv(tmp_path / "mmew.csv", [
        OFFICIAL, [1, "S01-01-001", 1, 2, 3, "12", "happiness", ""],
        [1, "S01-01-002", 1, 2, 3, "12", "joy", ""]])
    with pytest.raises(DataError, match=r"mmew\.csv row 3: unknown emotion 'joy'"):
        mmew.read_annotations(sheet)
