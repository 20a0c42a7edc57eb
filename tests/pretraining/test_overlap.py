"""Subject overlap between the macro and micro corpora, and the two policies."""

from __future__ import annotations

import numpy as np
import pytest

from mer.pretraining import SubjectOverlap, find_overlap, resolve_overlap

MACRO = ["ckplus/S005", "ckplus/S010", "ckplus/sub02"]
MICRO = ["casme2/sub01", "casme2/sub02", "samm/006"]


def test_by_subject_id_without_identity_tables() -> None:
    assert find_overlap(MACRO, MICRO) == [
        SubjectOverlap("ckplus/sub02", ("casme2/sub02",), None)]


def test_by_identity_when_both_tables_are_given() -> None:
    macro_ids = {"S005": "id00", "S010": "id17", "sub02": "id99"}  # bare subject keys
    micro_ids = {"casme2/sub01": "id00", "casme2/sub02": "id01", "samm/006": "id00"}
    found = find_overlap(MACRO, MICRO, macro_identities=macro_ids, micro_identities=micro_ids)
    assert found == [SubjectOverlap("ckplus/S005", ("casme2/sub01", "samm/006"), "id00")]


def test_disjoint_identities_give_no_overlap() -> None:
    macro_ids = {s: f"m{i}" for i, s in enumerate(MACRO)}
    micro_ids = {s: f"u{i}" for i, s in enumerate(MICRO)}
    assert find_overlap(MACRO, MICRO, macro_identities=macro_ids, micro_identities=micro_ids) == []


def test_identity_tables_come_in_pairs_and_unlisted_subjects_match_by_id() -> None:
    with pytest.raises(ValueError, match="both corpora"):
        find_overlap(MACRO, MICRO, macro_identities={"S005": "x"})
    # casme2/sub02 is not in the micro table (merged later): its id still meets ckplus/sub02
    found = find_overlap(MACRO, MICRO, macro_identities={"S005": "m5", "S010": "m10"},
                         micro_identities={"casme2/sub01": "a", "samm/006": "b"})
    assert [(o.macro_subject, o.micro_subjects) for o in found] == [
        ("ckplus/sub02", ("casme2/sub02",))]


def test_exclude_drops_the_overlapping_clips_and_accept_records_them() -> None:
    clip_subjects = ["ckplus/S005", "ckplus/sub02", "ckplus/sub02", "ckplus/S010"]
    overlap = find_overlap(MACRO, MICRO)
    excluded = resolve_overlap(clip_subjects, overlap, "exclude", matched_by="subject_id")
    assert excluded.keep.tolist() == [True, False, False, True]
    assert excluded.record["clips_dropped"] == 2
    accepted = resolve_overlap(clip_subjects, overlap, "accept", matched_by="subject_id")
    assert accepted.keep.all()
    assert accepted.record["policy"] == "accept" and accepted.record["clips_dropped"] == 0
    assert accepted.record["clips_overlapping"] == 2
    assert accepted.record["subjects"] == [
        {"macro": "ckplus/sub02", "micro": ["casme2/sub02"], "identity": None}]


def test_exclude_refuses_to_leave_nothing_and_unknown_policy_is_named() -> None:
    overlap = [SubjectOverlap("ckplus/S005", ("casme2/sub01",), "id")]
    with pytest.raises(ValueError, match="no clip is left"):
        resolve_overlap(np.array(["ckplus/S005"]), overlap, "exclude", matched_by="identity")
    with pytest.raises(ValueError, match="on_overlap must be one of"):
        resolve_overlap(["ckplus/S005"], overlap, "drop", matched_by="identity")  # type: ignore[arg-type]
