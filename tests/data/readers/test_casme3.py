"""Tests of the CAS(ME)^3 part A reader: the real label sheet and a text-cell fixture."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers import ReaderPolicy, casme3, read_corpus

SHEET = "casme3/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]


def test_real_sheet_has_860_rows_of_94_subjects(real_sheet) -> None:
    result = casme3.parse(real_sheet(SHEET))
    table = result.table
    assert table.num_rows + len(result.dropped) == 860
    dropped_subjects = {d.clip.split("_")[0] for d in result.dropped}
    assert len(set(table["subject"].to_pylist()) | dropped_subjects) == 94
    assert len(set(table["clip"].to_pylist())) == table.num_rows
    assert {r["fps"] for r in table.to_pylist()} == {30.0}
    emotions = Counter(table["emotion"].to_pylist())
    # the sheet spells "others" as "Others" three times; the four dropped clips are 3 others, 1 fear
    assert emotions + Counter({"others": 3, "fear": 1}) == Counter({
        "disgust": 250, "surprise": 187, "others": 161, "fear": 86, "anger": 64, "sad": 57,
        "happy": 55})


def test_real_sheet_defects_are_the_four_bad_ranges(real_sheet) -> None:
    result = casme3.parse(real_sheet(SHEET))
    assert sorted((d.clip, d.source_row) for d in result.dropped) == [
        ("spNO.149_d_112", 130), ("spNO.216_d_3647", 751), ("spNO.40_e_1812", 798),
        ("spNO.40_e_2327", 800)]
    with pytest.raises(DataError, match=r"row 130: clip spNO.149_d_112: apex 83 outside"):
        casme3.read_annotations(real_sheet(SHEET), ReaderPolicy(on_defect="fail"))


@pytest.fixture
def sheet(tmp_path: Path, write_xlsx) -> Path:
    """Two clips of one task video, every cell written as text like the real sheet."""
    return write_xlsx(tmp_path / "part_A_labels.xlsx", [
        HEADER,
        ["spNO.1", "b", "166", "175", "179", "4", "III", "disgust"],
        ["spNO.1", "b", "200", "201", "203", "R12", "I", "Others"],
    ])


def test_read_corpus_cuts_each_clip_out_of_the_task_video(tmp_path: Path, sheet: Path,
                                                           make_clip) -> None:
    root = tmp_path / "part_A"
    make_clip(root / "spNO.1" / "b" / "color", range(160, 210), pattern="{}.jpg")
    rows = read_corpus("casme3", root, sheet).table.to_pylist()
    assert [r["clip"] for r in rows] == ["spNO.1_b_166", "spNO.1_b_200"]
    assert rows[0]["frame_numbers"] == list(range(166, 180))
    assert rows[0]["frames"][0] == "spNO.1/b/color/166.jpg"
    assert rows[1]["frame_numbers"] == [200, 201, 202, 203]
    assert [r["emotion"] for r in rows] == ["disgust", "others"]
    assert [r["label"] for r in rows] == ["negative", None]


def test_non_numeric_onset_names_file_row_and_column(tmp_path: Path, write_xlsx) -> None:
    path = write_xlsx(tmp_path / "bad.xlsx", [HEADER, ["spNO.1", "b", "16a", "17", "19", "4",
                                                       "III", "disgust"]])
    with pytest.raises(DataError, match=r"bad\.xlsx row 2: Onset '16a' is not a frame number"):
        casme3.read_annotations(path)
