"""Umeyama's least-squares similarity."""

from __future__ import annotations

import numpy as np
import pytest

from mer.faces.similarity import apply_affine, invert_affine, umeyama


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array(
        [[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]]
    )


def test_recovers_a_known_similarity():
    rng = np.random.default_rng(3)
    source = rng.uniform(0, 200, (23, 2))
    truth = _similarity(17.0, 0.63, -12.5, 40.0)
    np.testing.assert_allclose(umeyama(source, apply_affine(truth, source)), truth, atol=1e-9)


def test_least_squares_with_noise_and_no_reflection():
    rng = np.random.default_rng(4)
    source = rng.uniform(0, 100, (200, 2))
    truth = _similarity(-8.0, 1.3, 5.0, -3.0)
    target = apply_affine(truth, source) + rng.normal(0, 0.5, source.shape)
    fitted = umeyama(source, target)
    np.testing.assert_allclose(fitted, truth, atol=0.2)
    assert np.linalg.det(fitted[:, :2]) > 0
    # a mirrored target still gives a proper rotation (det > 0), never a reflection
    mirrored = target * np.array([-1.0, 1.0])
    assert np.linalg.det(umeyama(source, mirrored)[:, :2]) > 0


def test_invert_affine_round_trip():
    m = _similarity(30.0, 2.0, 1.0, 2.0)
    points = np.array([[0.0, 0.0], [10.0, -3.0]])
    np.testing.assert_allclose(
        apply_affine(invert_affine(m), apply_affine(m, points)), points, atol=1e-12
    )


def test_bad_points_raise():
    with pytest.raises(ValueError, match="at least 2"):
        umeyama(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="all equal"):
        umeyama(np.ones((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="expected"):
        umeyama(np.zeros((3, 2)), np.zeros((4, 2)))
