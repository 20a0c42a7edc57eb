"""Tests of the CASME II reader: the real 2014/2019 sheets and fixtures copying their quirks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers import ReaderPolicy, attach_frames, casme2, read_corpus

SHEET_2014 = "casme2/CASME2-coding-20140508.xlsx"
SHEET_2019 = "casme2/CASME2-coding-20190701.xlsx"
PUBLISHED_2014 = Counter({"others": 99, "disgust": 63, "happiness": 32, "repression": 27,
                          "surprise": 25, "sadness": 7, "fear": 2})
HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
          "Action Units", "Estimated Emotion"]


def _emotions(result) -> Counter:
    """Emotions of the kept clips (the "/" clip, dropped, is a disgust clip)."""
    return Counter(result.table["emotion"].to_pylist())


def test_real_2014_sheet_has_the_published_counts(real_sheet) -> None:
    result = casme2.parse(real_sheet(SHEET_2014))
    assert _emotions(result) + Counter({"disgust": 1}) == PUBLISHED_2014
    assert result.table.num_rows + len(result.dropped) == 255
    assert len(set(result.table["subject"].to_pylist())) == 26
    assert result.table["source_row"][0].as_py() == 2


def test_real_2019_sheet_relabels_three_sub24_clips(real_sheet) -> None:
    old = casme2.parse(real_sheet(SHEET_2014)).table.to_pylist()
    new = casme2.parse(real_sheet(SHEET_2019)).table.to_pylist()
    expected = PUBLISHED_2014 + Counter({"surprise": 3}) - Counter({"sadness": 3})
    assert Counter(row["emotion"] for row in new) + Counter({"disgust": 1}) == expected
    changed = {a["clip"] for a, b in zip(old, new, strict=True) if a["emotion"] != b["emotion"]}
    assert len(changed) == 3 and all(clip.startswith("sub24_") for clip in changed)


def test_real_slash_apex_is_dropped_or_fails_by_policy(real_sheet) -> None:
    path = real_sheet(SHEET_2014)
    result = casme2.parse(path, ReaderPolicy(on_defect="drop"))
    assert [(d.clip, d.source_row) for d in result.dropped] == [("sub04_EP12_01f", 31)]
    assert "apex is missing ('/')" in result.dropped[0].reason
    with pytest.raises(DataError, match=r"row 31: clip sub04_EP12_01f: apex is missing"):
        casme2.read_annotations(path, ReaderPolicy(on_defect="fail"))


def test_real_onset_equal_to_apex_is_kept(real_sheet) -> None:
    table = casme2.read_annotations(real_sheet(SHEET_2014))
    row, = [r for r in table.to_pylist() if r["clip"] == "sub05_EP09_05f"]
    assert row["onset"] == row["apex"] == 69 and row["frames"] == [] and row["root"] == ""


@pytest.fixture
def sheet(tmp_path: Path, write_xlsx) -> Path:
    """A CASME II-like sheet: blank columns, numeric and text subjects, a "/" apex."""
    return write_xlsx(tmp_path / "coding.xlsx", [
        HEADER,
        [1, "EP02_01f", None, 8, 9, 11, None, 12, "Happiness "],
        ["02", "EP02_01f", None, 1, 2, 3, None, "4+L10", "disgust"],
        [4, "EP12_01f", None, 261, "/", 321, None, "4+7", "disgust"],
        [None, None, None, None, None, None, None, None, None],
    ])


def test_fixture_sheet_maps_subjects_emotions_and_units(sheet: Path) -> None:
    result = casme2.parse(sheet)
    rows = result.table.to_pylist()
    assert [(r["subject"], r["clip"]) for r in rows] == [("sub01", "sub01_EP02_01f"),
                                                        ("sub02", "sub02_EP02_01f")]
    assert [r["emotion"] for r in rows] == ["happiness", "disgust"]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert [r["action_units"] for r in rows] == ["12", "4+L10"]
    assert [r["source_row"] for r in rows] == [2, 3]
    assert [d.clip for d in result.dropped] == ["sub04_EP12_01f"]


@pytest.mark.parametrize("prefix", ["img", "reg_img"])
def test_read_corpus_attaches_raw_and_cropped_frames(tmp_path: Path, sheet: Path, make_clip,
                                                     prefix: str) -> None:
    root = tmp_path / ("CASME2_RAW_selected" if prefix == "img" else "Cropped")
    make_clip(root / "sub01" / "EP02_01f", range(1, 13), pattern=prefix + "{}.jpg")
    make_clip(root / "sub02" / "EP02_01f", range(1, 4), pattern=prefix + "{}.jpg")
    result = read_corpus("casme2", root, sheet)
    first = result.table.to_pylist()[0]
    assert first["frame_numbers"] == [8, 9, 10, 11]
    assert first["frames"] == [f"sub01/EP02_01f/{prefix}{n}.jpg" for n in (8, 9, 10, 11)]
    assert first["root"] == str(root)
    assert result.table.num_rows == 2 and len(result.dropped) == 1


def test_attach_frames_names_the_clip_when_the_apex_frame_is_missing(
        tmp_path: Path, sheet: Path, make_clip) -> None:
    make_clip(tmp_path / "sub01" / "EP02_01f", [8, 10, 11])
    make_clip(tmp_path / "sub02" / "EP02_01f", [1, 2, 3])
    with pytest.raises(DataError,
                       match=r"casme2 clip sub01_EP02_01f .*frame file missing for apex 9"):
        attach_frames(casme2.read_annotations(sheet), tmp_path)


def test_subject_that_is_not_a_number_is_rejected(tmp_path: Path, write_xlsx) -> None:
    row = ["anna", "EP1", None, 1, 2, 3, None, 4, "fear"]
    path = write_xlsx(tmp_path / "s.xlsx", [HEADER, row])
    with pytest.raises(DataError, match=r"s\.xlsx row 2: Subject 'anna' is not a subject number"):
        casme2.read_annotations(path)
