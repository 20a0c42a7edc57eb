"""Tests of the MEGC2019 composite: membership and labels from the official file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from mer.data.errors import DataError
from mer.data.readers import (ReaderPolicy, ReadResult, apply_composite, casme2, read_ground_truth,
                              samm, smic_annotations)
from mer.data.schema import CLIP_SCHEMA

GT = "megc2019/combined_3class_gt.csv"
PUBLISHED = {"smic": ((70, 51, 43), 16), "casme2": ((88, 32, 25), 24), "samm": ((92, 26, 15), 28)}


def _label_counts(labels: list[str]) -> tuple[int, int, int]:
    counts = Counter(labels)
    return counts["negative"], counts["positive"], counts["surprise"]


@pytest.fixture(scope="module")
def real(real_sheet) -> dict[str, object]:
    """The real composite file and the per-dataset tables built from the sheets alone."""
    gt = real_sheet(GT)
    return {"gt": gt, "casme2": casme2.parse(real_sheet("casme2/CASME2-coding-20140508.xlsx")),
            "samm": samm.parse(real_sheet("samm/SAMM_Micro_FACS_Codes_v2.xlsx")),
            "smic": smic_annotations(gt)}


def test_real_file_has_442_clips_of_68_subjects(real) -> None:
    truth = read_ground_truth(real["gt"])
    assert len(truth) == 442
    assert len({(t.dataset, t.subject) for t in truth}) == 68
    for dataset, (counts, subjects) in PUBLISHED.items():
        mine = [t for t in truth if t.dataset == dataset]
        assert _label_counts([t.label for t in mine]) == counts
        assert len({t.subject for t in mine}) == subjects


def test_real_composite_from_sheets_keeps_all_but_the_two_samm_defects(real) -> None:
    corpora = {name: real[name] for name in ("casme2", "samm", "smic")}
    result = apply_composite(corpora, real["gt"])
    assert result.table.num_rows == 440
    assert [(d.dataset, d.clip) for d in result.dropped] == [("samm", "028_4_1"),
                                                            ("samm", "032_3_1")]
    rows = result.table.to_pylist()
    assert {r["subject"] for r in rows if r["dataset"] == "smic"} >= {"s1", "s20"}
    assert {r["subject"] for r in rows if r["dataset"] == "samm"} >= {"006", "037"}
    for dataset, (counts, subjects) in PUBLISHED.items():
        labels = [r["label"] for r in rows if r["dataset"] == dataset]
        labels += ["negative" for d in result.dropped if d.dataset == dataset]
        assert _label_counts(labels) == counts
        kept = {r["subject"] for r in rows if r["dataset"] == dataset}
        assert len(kept) == subjects  # subjects 028 and 032 keep other clips


def test_real_casme2_subset_is_the_mapped_2014_sheet_minus_two(real) -> None:
    mapped = {r["clip"]: r["label"] for r in real["casme2"].table.to_pylist() if r["label"]}
    mapped["sub04_EP12_01f"] = "negative"  # the "/" apex (disgust) clip the reader dropped
    assert len(mapped) == 147
    result = apply_composite({"casme2": real["casme2"], "samm": real["samm"],
                              "smic": real["smic"]}, real["gt"])
    subset = {r["clip"]: r["label"] for r in result.table.to_pylist() if r["dataset"] == "casme2"}
    del mapped["sub04_EP12_01f"], mapped["sub05_EP09_05f"]
    assert subset == mapped


def test_real_composite_fails_on_a_dropped_member_under_fail(real) -> None:
    corpora = {name: real[name] for name in ("casme2", "samm", "smic")}
    with pytest.raises(DataError, match=r"row 414: samm clip 028_4_1 was dropped by its reader"):
        apply_composite(corpora, real["gt"], ReaderPolicy(on_defect="fail"))


def _table(dataset: str, subject: str, clip: str, emotion: str, label: str | None) -> pa.Table:
    row = {"dataset": dataset, "subject": subject, "clip": clip, "root": "", "frames": [],
           "frame_numbers": [], "onset": 1, "apex": 2, "offset": 3, "fps": 200.0,
           "action_units": "4", "emotion": emotion, "label": label, "source_file": "s.xlsx",
           "source_row": 2}
    return pa.Table.from_pylist([row], schema=CLIP_SCHEMA)


@pytest.fixture
def corpora() -> dict[str, pa.Table | ReadResult]:
    return {"casme2": _table("casme2", "sub01", "sub01_EP02_01f", "repression", "negative"),
            "samm": ReadResult(_table("samm", "006", "006_1_2", "other", None))}


def test_file_labels_override_and_spellings_are_reconciled(tmp_path: Path, corpora) -> None:
    gt = tmp_path / "gt.csv"
    gt.write_text("casme2,sub01,EP02_01f,2\nsamm,6,006_1_2,1\n")
    rows = apply_composite(corpora, gt).table.to_pylist()
    assert [(r["dataset"], r["subject"], r["clip"], r["label"]) for r in rows] == [
        ("casme2", "sub01", "sub01_EP02_01f", "surprise"), ("samm", "006", "006_1_2", "positive")]
    assert rows[0]["emotion"] == "repression"


def test_corpus_in_the_file_but_not_read_is_named(tmp_path: Path, corpora) -> None:
    gt = tmp_path / "gt.csv"
    gt.write_text("casme2,sub01,EP02_01f,0\nsmic,s01,s01_ne_01,0\n")
    with pytest.raises(DataError, match=r"gt\.csv: corpus smic is in the composite file but was "
                                        r"not read"):
        apply_composite(corpora, gt)


def test_member_missing_from_a_read_corpus_is_an_error(tmp_path: Path, corpora) -> None:
    gt = tmp_path / "gt.csv"
    gt.write_text("casme2,sub01,EP02_01f,0\ncasme2,sub02,EP09_01,1\n")
    with pytest.raises(DataError, match=r"gt\.csv row 2: casme2 clip sub02_EP09_01 is not in "
                                        r"the casme2 table"):
        apply_composite(corpora, gt)


def test_subject_disagreement_is_an_error(tmp_path: Path, corpora) -> None:
    corpora["samm"] = _table("samm", "007", "006_1_2", "anger", "negative")
    gt = tmp_path / "gt.csv"
    gt.write_text("samm,6,006_1_2,0\n")
    with pytest.raises(DataError, match=r"row 1: samm clip 006_1_2 belongs to subject 007"):
        apply_composite(corpora, gt)


@pytest.mark.parametrize(("text", "rule"), [
    ("casme2,sub01,EP02_01f\n", "expected 4 fields"),
    ("casme3,spNO.1,a,0\n", "unknown dataset 'casme3'"),
    ("casme2,sub01,EP02_01f,3\n", "label '3' is not 0, 1 or 2"),
    ("casme2,sub01,../EP02_01f,0\n", "clip '../EP02_01f' is not a plain name"),
    ("samm,6,006_1_2,0\nsamm,006,006_1_2,1\n", "row 2: duplicate clip 006_1_2"),
    ("\n", "has no rows"),
])
def test_bad_ground_truth_rows_are_rejected(tmp_path: Path, text: str, rule: str) -> None:
    gt = tmp_path / "gt.csv"
    gt.write_text(text)
    with pytest.raises(DataError, match="gt.csv") as error:
        read_ground_truth(gt)
    assert rule in str(error.value)


def test_real_composite_is_whole_under_estimate_apex(real_sheet, real) -> None:
    policy = ReaderPolicy(on_defect="estimate_apex")
    corpora = {"casme2": casme2.parse(real_sheet("casme2/CASME2-coding-20140508.xlsx"), policy),
               "samm": samm.parse(real_sheet("samm/SAMM_Micro_FACS_Codes_v2.xlsx"), policy),
               "smic": real["smic"]}
    result = apply_composite(corpora, real["gt"], policy)
    rows = result.table.to_pylist()
    assert len(rows) == 442 and not result.dropped
    assert len({(r["dataset"], r["subject"]) for r in rows}) == 68
    cleared = {r["clip"] for r in rows if r["dataset"] == "samm" and r["apex"] is None}
    assert cleared == {"028_4_1", "032_3_1"}
    for dataset, (counts, subjects) in PUBLISHED.items():
        assert _label_counts([r["label"] for r in rows if r["dataset"] == dataset]) == counts
