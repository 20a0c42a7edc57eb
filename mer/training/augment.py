"""Training-time augmentation of a batch of named inputs (flow, apex, onset).

All inputs of a clip get the same transform. Random draws come from a ``numpy.random.Generator``
so that a seed fixes them on any device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def hflip(inputs: dict[str, Tensor], mask: np.ndarray) -> dict[str, Tensor]:
    """Mirror the clips selected by ``mask`` left-right.

    Mirroring a flow field flips its maps and negates its horizontal component ``u`` (channel 0
    of ``"flow"``: a rightward motion becomes leftward); ``v`` and strain only move. Other inputs
    are images and are only mirrored.

    Args:
        inputs: ``key -> (B, C, H, W)`` tensors.
        mask: ``(B,)`` bool, which clips to mirror.

    Returns:
        ``key -> (B, C, H, W)`` tensors (new tensors; the inputs are not modified).
    """
    select = torch.from_numpy(np.asarray(mask, dtype=bool)).to(next(iter(inputs.values())).device)
    select = select.view(-1, 1, 1, 1)
    out = {}
    for key, x in inputs.items():
        flipped = x.flip(-1)
        if key == "flow":
            flipped = torch.cat([-flipped[:, :1], flipped[:, 1:]], dim=1)
        out[key] = torch.where(select, flipped, x)
    return out


def shift(inputs: dict[str, Tensor], offsets: np.ndarray) -> dict[str, Tensor]:
    """Translate each clip by whole pixels, replicating the edges.

    Args:
        inputs: ``key -> (B, C, H, W)`` tensors.
        offsets: ``(B, 2)`` int, ``(dy, dx)`` in pixels; positive moves the content down/right.

    Returns:
        ``key -> (B, C, H, W)`` tensors; flow values are unchanged (a translation does not change
        a displacement).
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    pad = int(np.abs(offsets).max(initial=0))
    if pad == 0:
        return dict(inputs)
    out = {}
    for key, x in inputs.items():
        height, width = x.shape[-2:]
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        out[key] = torch.stack([
            padded[i, :, pad - dy:pad - dy + height, pad - dx:pad - dx + width]
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
        inputs: ``key -> (B, C, H, W)`` tensors, all of one size.
        rng: source of the random draws (consumed the same way whatever the flags, so a flag
            does not change the other draws).
        flip: whether to mirror (see :func:`hflip`).
        max_shift: largest translation as a fraction of the side, per axis (see :func:`shift`).

    Returns:
        The augmented ``key -> (B, C, H, W)`` tensors, and the ``(B,)`` bool mask of the clips
        that were mirrored (all False when ``flip`` is off).
    """
    batch, _, height, width = next(iter(inputs.values())).shape
    mirror = rng.random(batch) < 0.5
    fractions = rng.uniform(-max_shift, max_shift, size=(batch, 2))
    out = hflip(inputs, mirror) if flip else inputs
    if max_shift > 0:
        out = shift(out, np.rint(fractions * np.array([height, width])).astype(np.int64))
    return out, mirror & flip
