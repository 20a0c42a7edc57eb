"""Training-time augmentation of a batch of named inputs (flow, apex, onset; the sequences
``(B, C, T, H, W)`` frames and flows).

All inputs of a clip get the same transform (every frame of a sequence too). Random draws come
from a ``numpy.random.Generator`` so that a seed fixes them on any device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mer.models.base import FLOW_INPUTS


def hflip(inputs: dict[str, Tensor], mask: np.ndarray) -> dict[str, Tensor]:
    """Mirror the clips selected by ``mask`` left-right.

    Mirroring a flow field flips its maps and negates its horizontal component ``u`` (channel 0
    of ``"flow"`` and ``"flows"``: a rightward motion becomes leftward); ``v`` and strain only
    move. Other inputs are images and are only mirrored.

    Args:
        inputs: ``key -> (B, C, H, W)`` or ``(B, C, T, H, W)`` tensors.
        mask: ``(B,)`` bool, which clips to mirror.

    Returns:
        The same shapes (new tensors; the inputs are not modified).
    """
    select = torch.from_numpy(np.asarray(mask, dtype=bool)).to(next(iter(inputs.values())).device)
    out = {}
    for key, x in inputs.items():
        flipped = x.flip(-1)
        if key in FLOW_INPUTS:
            flipped = torch.cat([-flipped[:, :1], flipped[:, 1:]], dim=1)
        out[key] = torch.where(select.view(-1, *([1] * (x.ndim - 1))), flipped, x)
    return out


def shift(inputs: dict[str, Tensor], offsets: np.ndarray) -> dict[str, Tensor]:
    """Translate each clip by whole pixels, replicating the edges.

    Args:
        inputs: ``key -> (B, C, H, W)`` or ``(B, C, T, H, W)`` tensors (a sequence moves as one).
        offsets: ``(B, 2)`` int, ``(dy, dx)`` in pixels; positive moves the content down/right.

    Returns:
        The same shapes; flow values are unchanged (a translation does not change
        a displacement).
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    pad = int(np.abs(offsets).max(initial=0))
    if pad == 0:
        return dict(inputs)
    out = {}
    for key, x in inputs.items():
        height, width = x.shape[-2:]
        padded = F.pad(x, (pad, pad, pad, pad) + (0, 0) * (x.ndim - 4), mode="replicate")
        out[key] = torch.stack([
            padded[i, ..., pad - dy:pad - dy + height, pad - dx:pad - dx + width]
            for i, (dy, dx) in enumerate(offsets.tolist())
        ])
    return out


def augment(
    inputs: dict[str, Tensor],
    rng: np.random.Generator,
    *,
    flip: bool,
    max_shift: float,
) -> tuple[dict[str, Tensor], np.ndarray]:
    """Randomly mirror (probability 1/2) and translate a batch.

    Args:
        inputs: ``key -> (B, C, H, W)`` (or ``(B, C, T, H, W)``) tensors, all of one H x W.
        rng: source of the random draws (consumed the same way whatever the flags, so a flag
            does not change the other draws).
        flip: whether to mirror (see :func:`hflip`).
        max_shift: largest translation as a fraction of the side, per axis (see :func:`shift`).

    Returns:
        The augmented tensors (same shapes), and the ``(B,)`` bool mask of the clips
        that were mirrored (all False when ``flip`` is off).
    """
    first = next(iter(inputs.values()))
    batch, (height, width) = first.shape[0], first.shape[-2:]
    mirror = rng.random(batch) < 0.5
    fractions = rng.uniform(-max_shift, max_shift, size=(batch, 2))
    out = hflip(inputs, mirror) if flip else inputs
    if max_shift > 0:
        out = shift(out, np.rint(fractions * np.array([height, width])).astype(np.int64))
    return out, mirror & flip
