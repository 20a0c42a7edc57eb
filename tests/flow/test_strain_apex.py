"""Optical strain of known fields (apex spotting: tests/spotting/test_apex.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer.flow import optical_strain


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
