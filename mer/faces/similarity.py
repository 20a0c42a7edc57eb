"""Least-squares similarity transforms between point sets (Umeyama, 1991)."""

from __future__ import annotations

import numpy as np


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The similarity (rotation, uniform scale, translation) best mapping ``source`` to ``target``.

    Minimises ``sum_i |s R source_i + t - target_i|^2`` in closed form (S. Umeyama, "Least-squares
    estimation of transformation parameters between two point patterns", TPAMI 1991), with
    ``det(R) = +1`` (no reflection).

    Args:
        source: (N, 2) points (x, y), N >= 2, not all equal.
        target: (N, 2) corresponding points (x, y).

    Returns:
        (2, 3) float64 matrix ``[s R | t]`` mapping source points to target points.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
        raise ValueError(f"umeyama: shapes {source.shape} and {target.shape}, expected (N, 2) each")
    if source.shape[0] < 2:
        raise ValueError("umeyama: needs at least 2 points")
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    ds, dt = source - mean_s, target - mean_t
    var_s = (ds**2).sum() / len(source)
    if var_s <= 0.0:
        raise ValueError("umeyama: source points are all equal")
    cov = dt.T @ ds / len(source)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = (d * sign).sum() / var_s
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_t - scale * rotation @ mean_s
    return matrix


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points (x, y) through a (2, 3) affine matrix."""
    points = np.asarray(points, dtype=np.float64)
    return points @ np.asarray(matrix, dtype=np.float64)[:, :2].T + np.asarray(matrix)[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine matrix, as (2, 3)."""
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]
