"""TV-L1 flow over a whole clip: every consecutive pair of frames, or of K sampled frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mer.flow.features import to_grey
from mer.flow.params import TVL1Params
from mer.flow.tvl1 import tvl1_flow

__all__ = ["sample_indices", "sequence_crops", "sequence_flow", "sequence_flows",
           "sequence_positions"]


def sample_indices(n_frames: int, k: int) -> list[int]:
    """``k`` frame indices spread evenly over ``n_frames`` frames, first and last included.

    Args:
        n_frames: frames in the clip (>= 2).
        k: frames to keep, 2 <= k; more than ``n_frames`` keeps every frame.

    Returns:
        Strictly increasing indices ``round(j * (n_frames - 1) / (k - 1))``, j = 0..k-1.
    """
    if n_frames < 2:
        raise ValueError(f"sample_indices: a clip needs at least 2 frames, got {n_frames}")
    if k < 2:
        raise ValueError(f"sample_indices: k must be >= 2 (one pair), got {k}")
    if k >= n_frames:
        return list(range(n_frames))
    return sequence_positions(0, n_frames - 1, k)  # k < n_frames: no repeats


def sequence_flow(
    frames: torch.Tensor | np.ndarray,
    params: TVL1Params | None = None,
    *,
    indices: list[int] | None = None,
    batch_size: int = 64,
) -> torch.Tensor:
    """Flow from each frame to the next one: ``indices[j] -> indices[j + 1]`` for every j.

    The pairs are independent and solved as batches of ``batch_size`` pairs (on CPU the chunks
    of a batch run on all torch threads). There is no warm start from the previous pair: measured
    on a 12-frame 128x128 clip with smooth motion, starting each pair from the previous flow
    (``tvl1_flow(..., initial_flow=...)``, OpenCV's ``useInitialFlow``, which only seeds the
    coarsest level) saved 3% of the iterations (5776 against 5971), did not lower the warping
    residual (1.089 against 1.085 grey levels), and would serialise the pairs.

    Args:
        frames: (T, H, W) or (T, 1, H, W) grey frames, float in [0, 1] or uint8, T >= 2, on the
            device where the flow is computed.
        params: TV-L1 parameters; default OpenCV's defaults.
        indices: strictly increasing frame indices (e.g. :func:`sample_indices`); default all.
        batch_size: pairs per :func:`mer.flow.tvl1_flow` call.

    Returns:
        (len(indices) - 1, 2, H, W) float32 flow in pixels (x, y), with
        ``frames[indices[j + 1]](p + flow[j](p)) ~ frames[indices[j]](p)``.

    Raises:
        ValueError: fewer than 2 frames or indices, indices not strictly increasing or out of
            range, a bad ``batch_size``, or frames :func:`mer.flow.tvl1_flow` rejects.
    """
    clip = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if clip.ndim == 3:
        clip = clip[:, None]
    if clip.ndim != 4 or clip.shape[1] != 1:
        raise ValueError(f"sequence_flow: frames must be (T, H, W) or (T, 1, H, W), got {tuple(clip.shape)}")
    order = list(range(clip.shape[0])) if indices is None else list(indices)
    _check_indices(order, clip.shape[0])
    if batch_size < 1:
        raise ValueError(f"sequence_flow: batch_size must be >= 1, got {batch_size}")
    index = torch.tensor(order, device=clip.device)
    first, second = clip.index_select(0, index[:-1]), clip.index_select(0, index[1:])
    return torch.cat([
        tvl1_flow(first[s : s + batch_size], second[s : s + batch_size], params)
        for s in range(0, first.shape[0], batch_size)
    ])


def _check_indices(order: list[int], n_frames: int) -> None:
    """Raise ValueError unless ``order`` holds 2+ strictly increasing indices into the frames."""
    if n_frames < 2 or len(order) < 2:
        raise ValueError(
            f"sequence_flow: needs at least 2 frames and 2 indices, got {n_frames} frames and "
            f"{len(order)} indices"
        )
    if any(b <= a for a, b in zip(order, order[1:])):
        raise ValueError(f"sequence_flow: indices must be strictly increasing, got {order}")
    if order[0] < 0 or order[-1] >= n_frames:
        raise ValueError(f"sequence_flow: indices {order[0]}..{order[-1]} outside the clip's {n_frames} frames")


def sequence_positions(onset: int, offset: int, k: int) -> list[int]:
    """``k`` frame indices evenly spaced from ``onset`` to ``offset``, both included.

    ``round(onset + j * (offset - onset) / (k - 1))``, j = 0..k-1: non-decreasing, with repeats
    when the clip has fewer than ``k`` frames from onset to offset (so every clip has K samples).
    """
    return [int(i) for i in np.rint(np.linspace(onset, offset, k))]


def sequence_crops(frames: np.ndarray, positions: Sequence[int], size: int) -> np.ndarray:
    """The frames at ``positions`` of an aligned clip ``(T, H, W, 3)`` uint8, resized to
    ``(K, size, size, 3)`` uint8 (bilinear, antialiased, rounded)."""
    rgb = torch.from_numpy(np.ascontiguousarray(frames[list(positions)])).permute(0, 3, 1, 2)
    small = F.interpolate(rgb.float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    return small.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def sequence_flows(crops: Sequence[np.ndarray], positions: Sequence[Sequence[int]],
                   solver: TVL1Params, batch_size: int) -> list[np.ndarray]:
    """TV-L1 flow between consecutive samples of several clips, the pairs solved together.

    Args:
        crops: per clip, ``(K, S, S, 3)`` uint8 RGB samples (:func:`sequence_crops`).
        positions: per clip, the K frame indices they were taken at; a pair of equal indices
            (a repeated frame) gets a zero flow without solving.
        solver: TV-L1 parameters.
        batch_size: pairs per :func:`mer.flow.tvl1.tvl1_flow` call.

    Returns:
        Per clip, ``(K - 1, 2, S, S)`` float32 flow in pixels of the S-pixel crop, with
        ``sample[j + 1](p + flow[j](p)) ~ sample[j](p)`` (OpenCV's convention).
    """
    greys = [to_grey(c) for c in crops]
    pairs = [(c, j) for c, pos in enumerate(positions) for j in range(len(pos) - 1)
             if pos[j + 1] > pos[j]]
    out = [np.zeros((len(pos) - 1, 2, *g.shape[1:]), np.float32)
           for g, pos in zip(greys, positions, strict=True)]
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        first = torch.from_numpy(np.stack([greys[c][j] for c, j in chunk])[:, None])
        second = torch.from_numpy(np.stack([greys[c][j + 1] for c, j in chunk])[:, None])
        flow = tvl1_flow(first, second, solver).numpy()
        for (c, j), field in zip(chunk, flow, strict=True):
            out[c][j] = field
    return out
