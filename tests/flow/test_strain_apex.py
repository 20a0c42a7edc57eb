"""Optical strain of known fields and apex spotting on synthetic clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer.flow import motion_profile, optical_strain, spot_apex


def test_strain_of_linear_field() -> None:
    h, w = 12, 15
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    a, b, c, d = 0.1, 0.3, -0.2, 0.05  # u = a x + b y, v = c x + d y
    flow = torch.stack((a * xx + b * yy, c * xx + d * yy))
    strain = optical_strain(flow)
    expected = np.sqrt(a**2 + d**2 + 0.5 * (b + c) ** 2)
    assert strain.shape == (1, h, w)
    torch.testing.assert_close(strain, torch.full((1, h, w), float(expected)), atol=1e-5, rtol=0)
    batch = optical_strain(flow[None].repeat(3, 1, 1, 1))
    assert batch.shape == (3, 1, h, w)


def test_strain_of_translation_and_rotation_is_zero() -> None:
    yy, xx = torch.meshgrid(torch.arange(10.0), torch.arange(10.0), indexing="ij")
    translation = torch.stack((torch.full_like(xx, 2.0), torch.full_like(xx, -1.0)))
    rotation = torch.stack((-0.1 * yy, 0.1 * xx))  # infinitesimal rotation: antisymmetric gradient
    assert optical_strain(translation).abs().max() < 1e-6
    assert optical_strain(rotation).abs().max() < 1e-6


def test_strain_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        optical_strain(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        optical_strain(torch.full((2, 8, 8), float("nan")))


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
    assert spot_apex(frames) == apex
    assert spot_apex(frames.astype(np.float32) / 255) == apex
    profile = motion_profile(frames)
    assert profile.shape == (12,) and profile[0] == 0


def test_spot_apex_edge_cases() -> None:
    assert spot_apex(np.zeros((1, 20, 20), np.uint8)) == 0
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        spot_apex(np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        spot_apex(np.full((3, 20, 20), np.nan, np.float32))
