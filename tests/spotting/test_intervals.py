"""Interval spotting: blinks are not apexes, the eye ratio tells a blink from a mouth movement."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from mer.faces.template import LEFT_EYE, template_pixels
from mer.spotting.intervals import SpotSettings, find_intervals, spotting_profiles


def test_blink_frames_are_not_apexes() -> None:
    profile = np.ones(120)
    profile[30:36] = [2, 5, 9, 9, 5, 2]  # an expression
    profile[80:84] = [4, 12, 12, 4]  # a blink, higher
    blink = np.zeros(120, bool)
    blink[80:84] = True
    both = find_intervals(profile, 4, 3.0, 2, 30)
    assert [i.apex for i in both] == [32, 81]
    kept = find_intervals(profile, 4, 3.0, 2, 30, blink)
    assert [(i.onset, i.apex, i.offset) for i in kept] == [(30, 32, 35)]


def _moving_bump(centre: tuple[float, float], n: int = 24, size: int = 128) -> np.ndarray:
    """A still textured face crop with a local bump at ``centre`` (x, y) rising at frames 10-13."""
    rng = np.random.default_rng(0)
    texture = gaussian_filter(rng.normal(0, 1, (size, size)), 3.0)
    texture = 120 + 50 * texture / texture.std()
    yy, xx = np.mgrid[0:size, 0:size]
    bump = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / 40.0)
    level = np.zeros(n)
    level[10:14] = [0.5, 1.0, 1.0, 0.5]
    return np.stack([np.clip(texture + 40 * c * bump + rng.normal(0, 1, texture.shape), 0, 255)
                     for c in level]).astype(np.uint8)


def test_eye_ratio_tells_a_blink_from_a_mouth_movement() -> None:
    points = template_pixels(128, 0.2)
    eye = points[LEFT_EYE].mean(axis=0)
    mouth = (points[:, 0].mean(), points[:, 1].max() - 0.12 * np.ptp(points[:, 1]))
    settings = SpotSettings()
    blink_score, blink_ratio = spotting_profiles(_moving_bump((eye[0], eye[1])), 4, settings)
    mouth_score, mouth_ratio = spotting_profiles(_moving_bump(mouth), 4, settings)
    assert blink_score.shape == blink_ratio.shape == (24,)
    assert blink_score[:4].tolist() == [0.0] * 4
    peak = int(np.argmax(mouth_score))
    assert 9 <= peak <= 14
    assert mouth_ratio[peak] < settings.blink_ratio < blink_ratio[int(np.argmax(blink_ratio))]
