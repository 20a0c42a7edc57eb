"""The auxiliary branch of the ``meta_auxiliary`` trainer: micro-macro motion alignment.

LightmanNet's auxiliary task (Wang et al., arXiv 2404.12024) is image alignment between micro-
and macro-expressions, which share spatial and temporal patterns. Ours, per sample:

- *What is aligned to what.* For each micro clip, a macro clip of the same emotion drawn at
  random (:func:`draw_partners`; never a class mean). Its motion map (onset -> apex flow ``u, v``
  at ``grid x grid`` pixels, each clip divided by its own RMS flow magnitude so that only the
  spatial pattern counts, not the amplitude that separates micro from macro) is warped onto the
  micro clip's motion map. The macro map moves, the micro map is the fixed target: the macro
  flow is the cleaner, larger version of the same facial action.
- *The learned alignment* (:class:`MotionAligner`): from the shared encoder's embeddings of the
  two clips, a two-layer MLP predicts an affine transform (identity plus a bounded offset) and a
  coarse ``coarse x coarse`` displacement field upsampled to the map, i.e. a tiny spatial
  transformer plus warp decoder; ``grid_sample`` applies it. The loss is the mean squared
  difference between the warped macro map and the micro map.
- *Why it shapes the encoder.* The warp is predicted from the encoder's embeddings only, so
  lowering the loss needs embeddings that say where on the face each clip moves and how; the
  gradient goes through the aligner into the shared encoder (tested in both levels,
  ``tests/training/test_meta_auxiliary.py``).

Flow vectors are warped as images (their components are not rotated with the warp): the offsets
are small (affine offset at most :data:`MAX_AFFINE`, displacements at most :data:`MAX_DISPLACEMENT`
of the half side).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mer.models.base import resize

#: Largest entry of the predicted affine offset (added to the identity ``[[1, 0, 0], [0, 1, 0]]``).
MAX_AFFINE = 0.3
#: Largest predicted displacement, in normalised coordinates ([-1, 1] spans the map).
MAX_DISPLACEMENT = 0.2
#: RMS magnitudes below this are treated as 1 when normalising a motion map.
_MIN_RMS = 1e-6


def motion_maps(flow: Tensor, grid: int) -> Tensor:
    """Motion maps of clips: ``u, v`` resized to ``grid`` and divided by their RMS magnitude.

    Args:
        flow: ``(B, 3, H, W)`` raw flow (u, v in pixels, strain).
        grid: side of the maps in pixels.

    Returns:
        ``(B, 2, grid, grid)`` maps with a mean squared magnitude of 1 per clip (or 0).
    """
    uv = resize(flow[:, :2], grid)
    rms = uv.pow(2).sum(dim=1).mean(dim=(1, 2)).sqrt()
    rms = torch.where(rms < _MIN_RMS, torch.ones_like(rms), rms)
    return uv / rms.view(-1, 1, 1, 1)


def draw_partners(labels: np.ndarray, macro_labels: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """For each micro clip, one macro clip of the same emotion, uniformly at random.

    Args:
        labels: ``(B,)`` class codes of the micro clips.
        macro_labels: ``(M,)`` class codes of the macro clips.
        rng: source of the draws.

    Returns:
        ``(B,)`` int64 macro positions, ``-1`` where no macro clip has that emotion.
    """
    partners = np.full(len(labels), -1, dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(macro_labels == c)
        mine = np.flatnonzero(labels == c)
        if len(members):
            partners[mine] = rng.choice(members, len(mine))
    return partners


class MotionAligner(nn.Module):
    """Predict a warp of a macro motion map onto a micro one from the two clips' embeddings.

    Args:
        embed_dim: size D of the shared encoder's embedding.
        hidden: width of the hidden layer.
        coarse: side of the predicted displacement field (upsampled to the map).

    Shapes: embeddings ``(B, D)`` each, maps ``(B, 2, g, g)``; :meth:`forward` returns the
    ``(B,)`` alignment loss per pair.
    """

    def __init__(self, embed_dim: int, hidden: int = 64, coarse: int = 4) -> None:
        super().__init__()
        self.coarse = coarse
        self.hidden = nn.Sequential(nn.Linear(2 * embed_dim, hidden), nn.ReLU())
        self.affine = nn.Linear(hidden, 6)
        self.displacement = nn.Linear(hidden, 2 * coarse * coarse)

    def warp(self, z_micro: Tensor, z_macro: Tensor, macro_maps: Tensor) -> Tensor:
        """Return the macro maps ``(B, 2, g, g)`` warped by the predicted transform."""
        h = self.hidden(torch.cat([z_micro, z_macro], dim=1))
        identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=h.device)
        theta = identity + MAX_AFFINE * torch.tanh(self.affine(h)).view(-1, 2, 3)
        size = macro_maps.shape
        base = F.affine_grid(theta, list(size), align_corners=False)  # (B, g, g, 2)
        coarse = MAX_DISPLACEMENT * torch.tanh(self.displacement(h)).view(
            -1, 2, self.coarse, self.coarse)
        fine = F.interpolate(coarse, size=size[-2:], mode="bilinear", align_corners=False)
        return F.grid_sample(macro_maps, base + fine.permute(0, 2, 3, 1), mode="bilinear",
                             padding_mode="zeros", align_corners=False)

    def forward(self, z_micro: Tensor, z_macro: Tensor, micro_maps: Tensor,
                macro_maps: Tensor) -> Tensor:
        """Per-pair mean squared difference ``(B,)`` between warped macro and micro maps."""
        warped = self.warp(z_micro, z_macro, macro_maps)
        return (warped - micro_maps).pow(2).mean(dim=(1, 2, 3))
