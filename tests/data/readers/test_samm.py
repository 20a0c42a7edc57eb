"""Tests of the SAMM reader: the real v2 sheet and a fixture with its preamble."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers import ReaderPolicy, read_corpus, samm

SHEET = "samm/SAMM_Micro_FACS_Codes_v2.xlsx"
PUBLISHED = Counter({"anger": 57, "other": 26, "happiness": 26, "surprise": 15, "contempt": 12,
                     "disgust": 9, "fear": 8, "sadness": 6})
HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
          "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def test_real_sheet_has_the_published_counts_and_defects(real_sheet) -> None:
    result = samm.parse(real_sheet(SHEET))
    table = result.table
    assert table.num_rows + len(result.dropped) == 159
    assert len(set(table["subject"].to_pylist())) == 29
    assert table["source_row"][0].as_py() == 15  # header on sheet row 14
    dropped = {d.clip: d for d in result.dropped}
    assert sorted(dropped) == ["028_4_1", "032_3_1"]
    assert "apex 1143 outside onset..offset 1071..1134" in dropped["028_4_1"].reason
    assert "apex 1930 outside onset..offset 4896..4970" in dropped["032_3_1"].reason
    # 028_4_1 is an anger clip, 032_3_1 a contempt clip
    kept = Counter(table["emotion"].to_pylist())
    assert kept + Counter({"anger": 1, "contempt": 1}) == PUBLISHED


def test_real_sheet_fails_on_its_first_defect_under_fail(real_sheet) -> None:
    with pytest.raises(DataError, match=r"row 140: clip 028_4_1: apex 1143 outside"):
        samm.read_annotations(real_sheet(SHEET), ReaderPolicy(on_defect="fail"))


def test_real_action_units_are_stripped_strings(real_sheet) -> None:
    rows = {r["clip"]: r for r in samm.read_annotations(real_sheet(SHEET)).to_pylist()}
    assert rows["006_1_3"]["action_units"] == "4"
    assert rows["033_1_4"]["action_units"] == "12+15"


@pytest.fixture
def sheet(tmp_path: Path, write_xlsx) -> Path:
    """A SAMM-like sheet: 13 preamble rows (some blank, one naming "Subject" in prose)."""
    preamble = [["SAMM Dataset - Master FACS Codes"], None, ["Subject of the notes:"], None,
                None, ["Symbol Key:"], ['"/" = or'], None, None, ["AU Help:"], None, None, None]
    return write_xlsx(tmp_path / "SAMM_codes.xlsx", preamble + [
        HEADER,
        [6, "006_1_2", 1, 5562, 5564, 5565, 4, "Micro - 1/2", "4+7 ", "Anger", 3, None],
        ["007", "007_3_1", 3, 10, 12, 11, 2, "Micro - 1/2", 12, "Happiness", 1, "apex late"],
    ])


def test_fixture_preamble_is_skipped_and_rows_numbered_as_shown(sheet: Path) -> None:
    result = samm.parse(sheet)
    row, = result.table.to_pylist()
    assert (row["subject"], row["clip"], row["source_row"]) == ("006", "006_1_2", 15)
    assert (row["onset"], row["apex"], row["offset"], row["fps"]) == (5562, 5564, 5565, 200.0)
    assert (row["action_units"], row["emotion"], row["label"]) == ("4+7", "anger", "negative")
    assert [(d.clip, d.source_row) for d in result.dropped] == [("007_3_1", 16)]


def test_read_corpus_attaches_greyscale_frames(tmp_path: Path, sheet: Path, make_clip) -> None:
    root = tmp_path / "SAMM"
    make_clip(root / "006" / "006_1_2", range(5560, 5568), pattern="006_{:05d}.jpg", mode="L")
    result = read_corpus("samm", root, sheet)
    row, = result.table.to_pylist()
    assert row["frames"] == [f"006/006_1_2/006_0{n}.jpg" for n in (5562, 5563, 5564, 5565)]
    assert row["frame_numbers"] == [5562, 5563, 5564, 5565]


def test_sheet_without_an_emotion_column_is_rejected(tmp_path: Path, write_xlsx) -> None:
    path = write_xlsx(tmp_path / "cut.xlsx", [None, HEADER[:9], [6, "006_1_2", 1, 1, 2, 3]])
    with pytest.raises(DataError, match=r"cut\.xlsx row 2: header is missing column\(s\) "
                                        r"Estimated Emotion"):
        samm.read_annotations(path)
