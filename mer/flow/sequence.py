"""A clip as a short sequence: K frames sampled from onset to offset and the TV-L1 flow to each."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mer.config import FlowReference, SequenceSampling
from mer.flow.features import to_grey
from mer.flow.params import TVL1Params
from mer.flow.tvl1 import tvl1_flow

__all__ = ["clip_positions", "sequence_crops", "sequence_flows", "sequence_positions"]


def sequence_positions(onset: int, offset: int, k: int, apex: int | None = None) -> list[int]:
    """``k`` frame indices from ``onset`` to ``offset``, both included.

    Without ``apex``: evenly spaced, ``round(onset + j * (offset - onset) / (k - 1))``, j =
    0..k-1. With ``apex`` (``onset <= apex <= offset``): samples 0..k // 2 evenly spaced from
    the onset to the apex and the other ``k - k // 2 - 1`` evenly spaced after the apex up to the
    offset, so sample ``k // 2`` is the apex and the time axis of every clip is aligned by phase
    (rise, then fall). Non-decreasing either way, with repeats when the clip has fewer frames than
    samples (so every clip has K samples).

    Raises:
        ValueError: if ``apex`` is outside ``[onset, offset]``.
    """
    if apex is None:
        return [int(i) for i in np.rint(np.linspace(onset, offset, k))]
    if not onset <= apex <= offset:
        raise ValueError(f"apex index {apex} is outside the sequence [{onset}, {offset}]")
    rise = np.linspace(onset, apex, k // 2 + 1)
    fall = np.linspace(apex, offset, k - k // 2)[1:]
    return [int(i) for i in np.rint(np.concatenate([rise, fall]))]


def clip_positions(onset: int, apex: int, offset: int, k: int,
                   sampling: SequenceSampling) -> list[int]:
    """The ``k`` frame indices of one clip's sequence, sampled as ``sampling`` says
    (:func:`sequence_positions`, with the apex for ``"apex"``); the sequence ends at the offset,
    or at the apex when that comes later."""
    if sampling == "apex":
        return sequence_positions(onset, max(offset, apex, onset), k, apex=apex)
    return sequence_positions(onset, max(offset, onset), k)


def sequence_crops(frames: np.ndarray, positions: Sequence[int], size: int) -> np.ndarray:
    """The frames at ``positions`` of an aligned clip ``(T, H, W, 3)`` uint8, resized to
    ``(K, size, size, 3)`` uint8 (bilinear, antialiased, rounded)."""
    rgb = torch.from_numpy(np.ascontiguousarray(frames[list(positions)])).permute(0, 3, 1, 2)
    small = F.interpolate(rgb.float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    return small.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def sequence_flows(clips: Sequence[np.ndarray], positions: Sequence[Sequence[int]],
                   solver: TVL1Params, batch_size: int, *, size: int,
                   reference: FlowReference = "onset") -> list[np.ndarray]:
    """TV-L1 flow between the samples of several clips, solved together at the frames' own size
    and then resized to ``size``.

    The flow is solved on the aligned frames (the face crop, H x W) rather than on the small
    crops: a micro-expression moves the face by a few tenths of a pixel at 128 px, which is
    below what TV-L1 resolves at 32 px.

    Args:
        clips: per clip, its aligned frames ``(T, H, W, 3)`` (or ``(T, H, W)`` grey) uint8.
        positions: per clip, the K frame indices sampled (:func:`sequence_positions`); a pair of
            equal indices (a repeated frame) gets a zero flow without solving.
        solver: TV-L1 parameters.
        batch_size: pairs per :func:`mer.flow.tvl1.tvl1_flow` call.
        size: side S of the returned flow fields, px.
        reference: ``"onset"`` (flow j: sample 0 -> sample j + 1) or ``"previous"`` (flow j:
            sample j -> sample j + 1); see :data:`mer.config.FlowReference`.

    Returns:
        Per clip, ``(K - 1, 2, S, S)`` float32 flow (x, y) in pixels of the S-pixel crop, with
        ``second(p + flow(p)) ~ first(p)`` (OpenCV's convention), resized bilinearly
        (antialiased) and scaled by ``S / W``.
    """
    greys = [to_grey(np.asarray(clip)) for clip in clips]
    pairs = [(c, 0 if reference == "onset" else j, j + 1)
             for c, pos in enumerate(positions) for j in range(len(pos) - 1)]
    pairs = [(c, a, b) for c, a, b in pairs if positions[c][b] > positions[c][a]]
    full = [np.zeros((len(pos) - 1, 2, *grey.shape[1:]), np.float32)
            for grey, pos in zip(greys, positions, strict=True)]
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        first = np.stack([greys[c][positions[c][a]] for c, a, _ in chunk])[:, None]
        second = np.stack([greys[c][positions[c][b]] for c, _, b in chunk])[:, None]
        flow = tvl1_flow(torch.from_numpy(first), torch.from_numpy(second), solver).numpy()
        for (c, _, b), field in zip(chunk, flow, strict=True):
            full[c][b - 1] = field
    return [_resize_flow(flow, size) for flow in full]


def _resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """``(N, 2, H, W)`` flow in pixels -> ``(N, 2, size, size)`` in pixels of the resized grid."""
    if flow.shape[-2:] == (size, size):
        return flow
    field = torch.from_numpy(flow)
    small = F.interpolate(field, size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    scale = torch.tensor([size / flow.shape[-1], size / flow.shape[-2]]).view(1, 2, 1, 1)
    return (small * scale).numpy()
