"""The committed statistics equal a fresh derivation from the real sheets (when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mer.synth.actions import parse_code
from mer.synth.derive import derive_statistics, normalise_au_code
from mer.synth.photos import detect_landmarks, source_photos
from mer.synth.statistics import MACRO_PROTOTYPES, SHEET_STATISTICS

ANNOTATIONS = Path(__file__).resolve().parents[3] / "shared" / "annotations"


def test_normalise_au_code() -> None:
    assert normalise_au_code("4+R10") == "4+R10"
    assert normalise_au_code("A12B") == "12"
    assert normalise_au_code("ref(7B)+43C") == "43"
    assert normalise_au_code("(R6 or R12) + R15") == "R6+R15"
    assert normalise_au_code("?") is None
    assert normalise_au_code(12) == "12"


def test_every_committed_code_parses() -> None:
    for corpus in SHEET_STATISTICS.values():
        for combos in corpus["combos"].values():
            for code, count in combos:
                assert parse_code(code) and count > 0
    for combos in MACRO_PROTOTYPES.values():
        for code, _ in combos:
            assert parse_code(code)


@pytest.mark.skipif(not ANNOTATIONS.is_dir(), reason="real sheets not present (../shared/annotations)")
def test_statistics_match_the_real_sheets() -> None:
    derived = derive_statistics(ANNOTATIONS / "casme2/CASME2-coding-20140508.xlsx",
                                ANNOTATIONS / "samm/SAMM_Micro_FACS_Codes_v2.xlsx")
    assert derived == SHEET_STATISTICS
    assert SHEET_STATISTICS["casme2"]["emotions"]["others"] == 99


def test_committed_landmarks_match_a_fresh_detection() -> None:
    for photo in source_photos():
        found = detect_landmarks(photo.image)
        assert np.linalg.norm(found - photo.landmarks, axis=1).mean() < 3.0, photo.name
