"""MEGC spotting scores: IoU of inclusive intervals and one-to-one matching at IoU >= 0.5."""

from __future__ import annotations

import pytest

from mer.spotting.evaluate import iou, score_intervals


def test_iou_of_inclusive_intervals() -> None:
    assert iou((0, 9), (0, 9)) == 1.0
    assert iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    assert iou((0, 4), (5, 9)) == 0.0


def test_each_truth_matched_once() -> None:
    score = score_intervals([(10, 20), (11, 21), (50, 60)], [(10, 20), (100, 110)])
    assert (score.true_positives, score.spotted, score.truth) == (1, 3, 2)
    assert score.precision == pytest.approx(1 / 3) and score.recall == 0.5
    assert score.f1 == pytest.approx(2 / 5)
    assert score_intervals([], []).f1 == 0.0
