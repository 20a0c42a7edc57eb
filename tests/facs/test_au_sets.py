"""AU sets with sides explicit: elements, multi-hot columns, Jaccard overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from mer.facs.au_sets import AU_SET_COLUMNS, au_set, jaccard, multi_hot
from mer.facs.codes import parse_au_code


def _set(text: str | None) -> frozenset[tuple[int, str]]:
    return au_set(parse_au_code(text))


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("L12", "R12", 0.0),        # near-identical sentences (cosine 0.995), other faces
        ("12", "R12", 0.5),         # both sides vs one of them
        ("4", "4+7", 0.5),
        ("4+R12", "R12+4", 1.0),    # order does not matter
        ("12L", "L12", 1.0),        # MMEW's side after the number
        ("A/L12", "12", 1.0),       # asymmetric: both sides move
        ("R12B", "R12A", 1.0),      # intensity left out
        ("U14", "L14", 0.0),        # one side, not said which
        ("(R6 or R12)", "R12", 0.5),
        ("?", "4", 0.0),
    ],
)
def test_jaccard_of_codes(a: str, b: str, overlap: float) -> None:
    assert jaccard(_set(a), _set(b)) == pytest.approx(overlap)


def test_elements_and_empty_cells() -> None:
    assert _set("4+R12") == {(4, "left"), (4, "right"), (12, "right")}
    assert _set(None) == _set("?") == frozenset()
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_multi_hot_marks_the_columns_of_the_set() -> None:
    vector = multi_hot(_set("4+R12"))
    assert vector.shape == (len(AU_SET_COLUMNS),) and vector.dtype == np.float32
    assert {AU_SET_COLUMNS[i] for i in np.flatnonzero(vector)} == _set("4+R12")
    mirrored = parse_au_code("R12+51")
    assert mirrored is not None
    assert au_set(mirrored.mirrored()) == {(12, "left"), (52, "left"), (52, "right")}
