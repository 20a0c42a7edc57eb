"""Apex spotters on synthetic clips: a moving blob, head motion and light drift, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mer.config import FlowParams
from mer.spotting import (
    DEFAULT_SPOTTER,
    SPOTTERS,
    apex_posterior,
    motion_profile,
    residual_profile,
    spot_apex,
)
from mer.spotting.apex import rise_fall_curves
from mer.spotting.rigid import face_weights


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
        spot_apex(np.full((3, 20, 20), np.nan, np.float32), "max_difference")


def _face_clip(apex: int, n: int = 16, size: int = 64) -> np.ndarray:
    """Textured frames: a local bump that rises to ``apex`` and falls, while the whole image
    drifts right and brightens (head drift and light drift grow to the last frame)."""
    rng = np.random.default_rng(0)
    texture = rng.normal(0, 1, (size + 16, size + 16))
    from scipy.ndimage import gaussian_filter, shift

    texture = 120 + 60 * gaussian_filter(texture, 2.0) / gaussian_filter(texture, 2.0).std()
    yy, xx = np.mgrid[0:size, 0:size]
    bump = np.exp(-((xx - 32) ** 2 + (yy - 46) ** 2) / 18.0)
    frames = []
    for t in range(n):
        c = np.sin(0.5 * np.pi * t / apex) if t <= apex else np.cos(0.5 * np.pi * (t - apex) / (n - 1 - apex)) * 0.9 + 0.1
        moved = shift(texture, (0, 2.0 * t / (n - 1)), order=1)[8:-8, 8:-8]
        frame = moved * (1 + 0.08 * t / (n - 1)) + 25 * c * bump
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.mark.parametrize("apex", [4, 7])
def test_rigid_residual_ignores_drift(apex: int) -> None:
    frames = _face_clip(apex)
    assert abs(spot_apex(frames, "rigid_residual") - apex) <= 1
    assert spot_apex(frames, "max_difference") >= 12  # drift decides the naive spotter
    profile = residual_profile(frames)
    assert profile.shape == (16,) and profile[0] == 0


def test_middle_and_unknown_spotter() -> None:
    frames = np.zeros((9, 32, 32), np.uint8)
    assert spot_apex(frames, "middle") == 4
    assert spot_apex(frames[:2], "middle") == 1
    assert set(SPOTTERS) == {"max_difference", "middle", "rigid_residual", "rigid_fit"}
    with pytest.raises(ValueError, match="unknown apex spotter 'peak'"):
        spot_apex(frames, "peak")


@pytest.mark.parametrize("apex", [4, 7, 11])
def test_rigid_fit_ignores_drift(apex: int) -> None:
    frames = _face_clip(apex)
    assert abs(spot_apex(frames, "rigid_fit") - apex) <= 1
    posterior = apex_posterior(frames)
    assert posterior.shape == (16,) and posterior[0] == 0
    assert posterior.sum() == pytest.approx(1.0)
    assert abs(int(np.argmax(posterior)) - apex) <= 1


def test_rigid_fit_without_expression_lands_near_the_middle() -> None:
    """Noise only: no pattern rises and falls, the posterior is broad, its median central."""
    rng = np.random.default_rng(3)
    still = _face_clip(7).astype(np.float64)
    still = still[:1] + rng.normal(0, 2.0, still.shape)  # the first frame, repeated with noise
    frames = np.clip(still, 0, 255).astype(np.uint8)
    assert abs(spot_apex(frames, "rigid_fit") - 8) <= 3
    assert apex_posterior(frames).max() < 0.5


def test_rigid_fit_short_clips() -> None:
    frames = _face_clip(4)
    assert spot_apex(frames[:3], "rigid_fit") == 1
    assert spot_apex(frames[:1], "rigid_fit") == 0
    with pytest.raises(ValueError, match=">= 4 frames"):
        apex_posterior(frames[:3])


def test_rise_fall_curves() -> None:
    curves = rise_fall_curves(10, end_level=0.1)
    assert curves.shape == (9, 10)
    assert np.all(curves[:, 0] == 0)
    assert np.argmax(curves, axis=1).tolist() == list(range(1, 10))
    assert curves[:-1, -1] == pytest.approx(np.full(8, 0.1))
    assert curves[-1, -1] == pytest.approx(1.0)  # apex on the last frame: no fall


def test_fit_mask_leaves_more_of_the_eyes_out() -> None:
    default = face_weights(64, 64)
    wide = face_weights(64, 64, eye_extent=2.4)
    assert wide.sum() < default.sum()
    assert bool((wide <= default).all())


def test_default_spotter_is_the_configured_one() -> None:
    import yaml

    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    assert DEFAULT_SPOTTER == "rigid_fit"
    assert FlowParams().apex_spotter == params["flow"]["apex_spotter"] == DEFAULT_SPOTTER
