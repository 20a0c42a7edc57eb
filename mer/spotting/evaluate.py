"""Scoring spotters: apex errors, and intervals as the MEGC spotting protocol scores them.

MEGC: a spotted interval is a true positive when its intersection over union with a ground-truth
interval is at least 0.5 (each ground-truth interval matched at most once); precision, recall and
F1 are over all spotted and all ground-truth intervals pooled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SpottingScore", "iou", "score_intervals"]


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


@dataclass(frozen=True)
class SpottingScore:
    """Counts and rates of the MEGC spotting protocol."""

    true_positives: int
    spotted: int
    truth: int

    @property
    def precision(self) -> float:
        """TP / spotted (0 when nothing was spotted)."""
        return self.true_positives / self.spotted if self.spotted else 0.0

    @property
    def recall(self) -> float:
        """TP / ground truth (0 when there is none)."""
        return self.true_positives / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        """2 TP / (spotted + ground truth)."""
        total = self.spotted + self.truth
        return 2 * self.true_positives / total if total else 0.0

    def __add__(self, other: SpottingScore) -> SpottingScore:
        return SpottingScore(self.true_positives + other.true_positives,
                             self.spotted + other.spotted, self.truth + other.truth)


def score_intervals(spotted: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]],
                    threshold: float = 0.5) -> SpottingScore:
    """Match spotted to ground-truth intervals greedily by IoU (highest first), one to one.

    Args:
        spotted: (onset, offset) of each spotted interval, inclusive frame numbers.
        truth: (onset, offset) of each ground-truth interval.
        threshold: smallest IoU of a hit.
    """
    pairs = sorted(((iou(s, t), i, j) for i, s in enumerate(spotted) for j, t in enumerate(truth)),
                   reverse=True)
    used_s: set[int] = set()
    used_t: set[int] = set()
    for value, i, j in pairs:
        if value < threshold:
            break
        if i not in used_s and j not in used_t:
            used_s.add(i)
            used_t.add(j)
    return SpottingScore(len(used_s), len(spotted), len(truth))
