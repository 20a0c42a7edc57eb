"""Micro-expression intervals in a long recording of an aligned face, head motion removed.

For every frame ``t`` the face is compared with the frames ``k`` before and ``k`` after it
(``k`` about half a micro-expression), each brought onto frame ``t`` by its rigid head motion
and light change first (:func:`mer.spotting.rigid.rigid_residual`). The score of ``t`` is the smaller of the two
residual energies inside the face with the eyes left out: a micro-expression differs from the
neutral face on both sides, a lasting change of pose or expression on one side only. Peaks that
stand out of the recording's noise (median + ``threshold`` x 1.4826 MAD) are apexes, unless the
residual around the eyes is ``blink_ratio`` times that of the rest of the face (a blink); each
interval runs from where the score rises above half the peak to where it falls
below it, widened by ``k / 2`` on each side (the score needs ``k`` frames of motion to build up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mer.spotting.rigid import face_weights, prepare, residual_energy, rigid_residual

__all__ = ["Interval", "SpotSettings", "find_intervals", "spotting_profiles"]


@dataclass(frozen=True)
class SpotSettings:
    """How intervals are spotted.

    Attributes:
        half_window_s: ``k`` in seconds (frames = round(k x fps), at least 1).
        threshold: peaks must exceed the median score by this many robust standard deviations.
        min_length_s: shortest interval kept, seconds.
        max_length_s: longest interval kept (longer ones are macro-expressions), seconds.
        margin: crop margin of the aligned faces (places the face and eye masks).
        batch: frames solved together.
        blur_sigma: blur of the 64 px frames before the rigid fit, pixels.
        eye_extent: the eyes are left out of the score as ellipses of this many times their
            landmarks' extent.
        blink_ratio: a peak whose eye residual (inside those ellipses) is more than this many
            times the rest of the face's is a blink, not an apex.
    """

    half_window_s: float = 0.15
    threshold: float = 6.0
    min_length_s: float = 0.1
    max_length_s: float = 1.0
    margin: float = 0.2
    batch: int = 256
    blur_sigma: float = 2.0
    eye_extent: float = 2.4
    blink_ratio: float = 2.5

    def frames(self, seconds: float, fps: float) -> int:
        """``seconds`` in frames at ``fps`` (at least 1)."""
        return max(1, int(round(seconds * fps)))


@dataclass(frozen=True)
class Interval:
    """A spotted interval: frame indices from 0 (``onset <= apex <= offset``) and its peak score."""

    onset: int
    apex: int
    offset: int
    score: float


def spotting_profiles(frames: np.ndarray | torch.Tensor, k: int, settings: SpotSettings
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The score of every frame and its eye-to-face residual ratio (see the module docstring).

    Args:
        frames: (T, H, W) grey aligned face crops, uint8 or float in [0, 1].
        k: half window, frames (>= 1).
        settings: ``margin``, ``batch``, ``blur_sigma`` and ``eye_extent`` are used.

    Returns:
        (T,) float64 scores and (T,) float64 eye ratios; both 0 within ``k`` frames of either end.
    """
    if k < 1:
        raise ValueError(f"half window must be >= 1 frame, got {k}")
    x = prepare(frames, blur_sigma=settings.blur_sigma)
    n, h, w = x.shape
    profile, ratio = np.zeros(n), np.zeros(n)
    if n <= 2 * k:
        return profile, ratio
    weights = face_weights(h, w, settings.margin)
    face = face_weights(h, w, settings.margin, eye_extent=settings.eye_extent)
    eyes = face_weights(h, w, settings.margin, mask_eyes=False) - face
    centres = torch.arange(k, n - k)
    for start in range(0, len(centres), settings.batch):
        t = centres[start:start + settings.batch]
        residuals = [rigid_residual(x[t], x[t + step], weights) for step in (-k, k)]
        profile[t.numpy()] = np.minimum(*(residual_energy(r, face) for r in residuals))
        eye = np.minimum(*(residual_energy(r, eyes) for r in residuals))
        ratio[t.numpy()] = eye / np.maximum(profile[t.numpy()], 1e-12)
    return profile, ratio


def find_intervals(profile: np.ndarray, k: int, threshold: float, min_length: int,
                   max_length: int, blink: np.ndarray | None = None) -> list[Interval]:
    """Peaks of a spotting profile as intervals (see the module docstring).

    Args:
        profile: (T,) scores.
        k: half window, frames; peaks closer than ``2 k`` keep the higher one.
        threshold: robust standard deviations above the median.
        min_length, max_length: interval lengths kept, frames.
        blink: (T,) bool, frames that are blinks: never apexes (they still suppress lower peaks
            within ``2 k``, so a blink's shoulder is not spotted instead).

    Returns:
        Intervals in time order.
    """
    valid = profile[profile > 0]
    if valid.size == 0:
        return []
    median = float(np.median(valid))
    spread = 1.4826 * float(np.median(np.abs(valid - median))) or 1e-12
    level = median + threshold * spread
    order = np.argsort(-profile, kind="stable")
    taken: list[int] = []
    for t in order:
        if profile[t] <= level:
            break
        if all(abs(int(t) - s) >= 2 * k for s in taken):
            taken.append(int(t))
    intervals = []
    widen = max(1, k // 2)
    for apex in sorted(t for t in taken if blink is None or not blink[t]):
        half = median + 0.5 * (profile[apex] - median)
        onset = apex
        while onset > 0 and profile[onset - 1] > half:
            onset -= 1
        offset = apex
        while offset < len(profile) - 1 and profile[offset + 1] > half:
            offset += 1
        onset, offset = max(0, onset - widen), min(len(profile) - 1, offset + widen)
        if min_length <= offset - onset + 1 <= max_length:
            intervals.append(Interval(onset, apex, offset, float(profile[apex])))
    return intervals
