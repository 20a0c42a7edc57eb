"""A small synthetic FeatureSet whose class is written in the flow, for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import torch

from mer.data.schema import LABELS
from mer.training.data import FeatureSet


def toy_features(
    n_subjects: int = 6,
    clips_per_subject: int = 12,
    size: int = 32,
    *,
    signal: float = 1.0,
    seed: int = 0,
    sequence_frames: int = 0,
) -> FeatureSet:
    """Return a FeatureSet of ``n_subjects * clips_per_subject`` clips of ``size x size``.

    Each clip's flow is noise plus, scaled by ``signal`` (pixels), a motion pattern of its class:
    negative = the upper half (brows) moves down, positive = the lower corners (mouth corners) move
    outwards and up, surprise = the upper half moves up. Strain is the flow's gradient magnitude;
    onset and apex are noise images with a subject-specific brightness. Classes cycle 0, 1, 2 within
    each subject. Subjects are ``"toy/s00"``, ``"toy/s01"``, ...; clips ``"s00_c00"``, ...

    Args:
        n_subjects: number of subjects.
        clips_per_subject: clips per subject.
        size: side H = W in pixels.
        signal: amplitude of the class pattern in pixels (0 gives pure noise).
        seed: seeds the noise.
        sequence_frames: K > 1 also gives the sequence inputs: ``"flows"`` ``(N, 2, K - 1, S, S)``
            = the class pattern times a rise-and-fall profile over the K - 1 steps plus noise,
            ``"frames"`` ``(N, 3, K, S, S)`` = the clip's brightness plus noise.
    """
    rng = np.random.default_rng(seed)
    n = n_subjects * clips_per_subject
    labels = np.tile(np.arange(clips_per_subject) % len(LABELS), n_subjects)
    grid = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    y, x = np.meshgrid(grid, grid, indexing="ij")
    upper = (y < 0).astype(np.float32)
    corners = (y > 0.3) * (np.abs(x) > 0.3)
    patterns = np.stack([
        np.stack([np.zeros_like(x), upper]),  # negative: brows lowered (v > 0 is down)
        np.stack([np.sign(x) * corners, -0.5 * corners]),  # positive: lip corners out and up
        np.stack([np.zeros_like(x), -upper]),  # surprise: brows raised
    ]).astype(np.float32)
    uv = 0.5 * rng.standard_normal((n, 2, size, size), dtype=np.float32) + signal * patterns[labels]
    dvdy, dudx = np.gradient(uv[:, 1], axis=1), np.gradient(uv[:, 0], axis=2)
    strain = np.sqrt(dudx**2 + dvdy**2)[:, None]
    brightness = np.repeat(rng.uniform(0.3, 0.7, n_subjects), clips_per_subject)
    frames = np.clip(brightness[:, None, None, None]
                     + 0.1 * rng.standard_normal((n, 2, size, size)), 0.0, 1.0).astype(np.float32)
    subjects = np.array([f"toy/s{s:02d}" for s in range(n_subjects)], dtype=object)
    inputs = {
        "flow": torch.from_numpy(np.concatenate([uv, strain], axis=1).astype(np.float32)),
        "onset": torch.from_numpy(frames[:, :1].copy()),
        "apex": torch.from_numpy(frames[:, 1:].copy()),
    }
    if sequence_frames > 1:
        inputs |= _sequence(rng, signal * patterns[labels], brightness, sequence_frames)
    return FeatureSet(
        inputs=inputs,
        labels=torch.from_numpy(labels.astype(np.int64)),
        subjects=np.repeat(subjects, clips_per_subject),
        clips=np.array([f"s{s:02d}_c{c:02d}" for s in range(n_subjects)
                        for c in range(clips_per_subject)], dtype=object),
    )


def _sequence(rng: np.random.Generator, patterns: np.ndarray, brightness: np.ndarray,
              k: int) -> dict[str, torch.Tensor]:
    """``"frames"`` ``(N, 3, k, S, S)`` and ``"flows"`` ``(N, 2, k - 1, S, S)`` of
    :func:`toy_features`; ``patterns`` ``(N, 2, S, S)`` px, ``brightness`` ``(N,)``."""
    n, _, size, _ = patterns.shape
    profile = np.sin(np.pi * (np.arange(k - 1) + 0.5) / (k - 1)).astype(np.float32)
    flows = patterns[:, :, None] * profile[None, None, :, None, None] \
        + 0.5 * rng.standard_normal((n, 2, k - 1, size, size), dtype=np.float32)
    frames = np.clip(brightness[:, None, None, None, None]
                     + 0.1 * rng.standard_normal((n, 3, k, size, size)), 0.0, 1.0)
    return {"frames": torch.from_numpy(frames.astype(np.float32)),
            "flows": torch.from_numpy(flows.astype(np.float32))}
