"""Apex spotters on synthetic clips: a moving blob, head motion and light drift, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from mer.spotting import SPOTTERS, motion_profile, residual_profile, spot_apex


def _clip(apex: int, n: int = 12, size: int = 48) -> np.ndarray:
    """A bright blob that moves away from its onset position up to ``apex`` and back."""
    rng = np.random.default_rng(apex)
    yy, xx = np.mgrid[0:size, 0:size]
    frames = []
    for t in range(n):
        shift = 6.0 * (t / apex if t <= apex else (n - 1 - t) / (n - 1 - apex))
        blob = np.exp(-((xx - 20 - shift) ** 2 + (yy - 24) ** 2) / 30.0)
        frame = 60 + 150 * blob + rng.normal(0, 2, (size, size))
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.mark.parametrize("apex", [3, 7, 10])
def test_spot_apex_on_synthetic_clip(apex: int) -> None:
    frames = _clip(apex)
    assert spot_apex(frames, "max_difference") == apex
    assert spot_apex(frames.astype(np.float32) / 255, "max_difference") == apex
    profile = motion_profile(frames)
    assert profile.shape == (12,) and profile[0] == 0


def test_spot_apex_edge_cases() -> None:
    assert spot_apex(np.zeros((1, 20, 20), np.uint8)) == 0
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        spot_apex(np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        spot_apex(np.full((3, 20, 20), np.nan, np.float32))
