"""A clip's action units as a set with sides explicit, and as a multi-hot vector.

The contrastive trainer weights a pair of clips by the overlap of their AU sets (Jaccard), since
the sentence encoder sees "lip corner puller on the left" and "... on the right" as near-identical
(cosine 0.995) while the two codes describe different faces. An element of a set is ``(number,
part)`` with ``part`` one of :data:`PARTS`:

- an AU coded on both sides (no side, or asymmetric ``A``/``A/L``: both sides move) is the two
  elements ``(n, "left")`` and ``(n, "right")``, so ``"12"`` and ``"R12"`` overlap by one half
  (Jaccard 0.5) and ``"L12"`` and ``"R12"`` not at all;
- ``L``/``R`` (or MMEW's ``12L``) is the one element of that side;
- ``U`` (one side, not said which) is ``(n, "one side")``;
- every alternative of ``X or Y`` counts (the coder saw one of them); intensity, top/bottom lip
  and ``ref(...)`` marks are left out; an uncoded (``"?"``) or blank cell is the empty set.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from mer.facs.codes import AUCode
from mer.facs.table import FACS

#: The parts of the face an AU element names.
PARTS: Final[tuple[str, ...]] = ("left", "right", "one side")
#: Column order of :func:`multi_hot`: every FACS number x :data:`PARTS`.
AU_SET_COLUMNS: Final[tuple[tuple[int, str], ...]] = tuple(
    (number, part) for number in sorted(FACS) for part in PARTS)
_COLUMN: Final[dict[tuple[int, str], int]] = {key: i for i, key in enumerate(AU_SET_COLUMNS)}


def au_set(code: AUCode | None) -> frozenset[tuple[int, str]]:
    """Return the ``(number, part)`` elements of a parsed code (rules in the module docstring).

    Examples:
        >>> from mer.facs.codes import parse_au_code
        >>> sorted(au_set(parse_au_code("4+R12")))
        [(4, 'left'), (4, 'right'), (12, 'right')]
    """
    if code is None:
        return frozenset()
    elements: set[tuple[int, str]] = set()
    for group in code.groups:
        for term in group:
            if term.side == "unilateral":
                elements.add((term.number, "one side"))
            elif term.side is not None and not term.asymmetric:
                elements.add((term.number, term.side))
            else:
                elements.update({(term.number, "left"), (term.number, "right")})
    return frozenset(elements)


def multi_hot(elements: frozenset[tuple[int, str]]) -> np.ndarray:
    """Return the ``(len(AU_SET_COLUMNS),)`` float32 0/1 vector of a set (:data:`AU_SET_COLUMNS`)."""
    vector = np.zeros(len(AU_SET_COLUMNS), dtype=np.float32)
    vector[[_COLUMN[element] for element in elements]] = 1.0
    return vector


def jaccard(a: frozenset[tuple[int, str]], b: frozenset[tuple[int, str]]) -> float:
    """Return ``|a & b| / |a | b|`` (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0
