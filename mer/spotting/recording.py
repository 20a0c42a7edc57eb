"""Spot a whole recording: align the face segment by segment, then find the intervals.

A long recording drifts: its head moves by more than the crop tolerates. So the face is found and
aligned again every ``segment_s`` seconds (:func:`mer.faces.align_clip`, one similarity per
segment); each segment is aligned with ``k`` frames of its neighbours on both sides, so every
frame's score (:func:`mer.spotting.intervals.spotting_profiles`) compares frames of one alignment.
"""

from __future__ import annotations

import numpy as np

from mer.data.errors import DataError
from mer.spotting.intervals import Interval, SpotSettings, find_intervals, spotting_profiles

__all__ = ["min_frames", "spot_recording"]


def min_frames(fps: float, settings: SpotSettings) -> int:
    """Fewest frames a recording needs: two half windows around the longest interval kept."""
    k = settings.frames(settings.half_window_s, fps)
    return 2 * k + settings.frames(settings.max_length_s, fps)


def spot_recording(frames: np.ndarray, fps: float, settings: SpotSettings | None = None, *,
                   size: int = 128, segment_s: float = 4.0, where: str = "recording"
                   ) -> list[Interval]:
    """Micro-expression intervals of a recording.

    Args:
        frames: (T, H, W, 3) RGB or (T, H, W) grey uint8 frames.
        fps: frame rate.
        settings: spotting settings (its ``margin`` is also the alignment's).
        size: aligned crop side, pixels.
        segment_s: seconds aligned with one similarity.
        where: the file, for error messages.

    Returns:
        Intervals in time order, frame indices from 0.

    Raises:
        DataError: the recording is shorter than :func:`min_frames`.
        NoFaceError: no face in a segment (the message names the segment's time).
    """
    from mer.faces import align_clip  # noqa: PLC0415 - loads dlib's models
    from mer.flow.features import to_grey  # noqa: PLC0415

    settings = settings or SpotSettings()
    n = len(frames)
    needed = min_frames(fps, settings)
    if n < needed:
        raise DataError(where, f"too short to spot: {n} frames ({n / fps:.2f} s at {fps:g} fps); "
                               f"spotting needs at least {needed} frames")
    k = settings.frames(settings.half_window_s, fps)
    step = max(settings.frames(segment_s, fps), 4 * k)
    profile, ratio = np.zeros(n), np.zeros(n)
    for start in range(0, n, step):
        low, high = max(0, start - k), min(n, start + step + k)
        aligned = align_clip(frames[low:high], size=size, margin=settings.margin,
                             reference=start - low, clip=f"{where} at {start / fps:.2f} s")
        part, part_ratio = spotting_profiles(to_grey(aligned.frames, where), k, settings)
        keep = slice(start - low, start - low + min(step, n - start))
        profile[start:start + min(step, n - start)] = part[keep]
        ratio[start:start + min(step, n - start)] = part_ratio[keep]
    return find_intervals(profile, k, settings.threshold, settings.frames(settings.min_length_s, fps),
                          settings.frames(settings.max_length_s, fps), ratio > settings.blink_ratio)
