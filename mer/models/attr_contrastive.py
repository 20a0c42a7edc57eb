"""Attribute embedding network: a small 3D CNN on the clip's flows (and, as the paper has it, a
second one on its RGB frames), with a projection head into a text space (Song et al., arXiv
2205.14643).

The paper's idea: a 3D CNN extracts features from the RGB clip and from its optical flow and fuses
them; a text encoder (BERT) embeds the FACS description of the clip's action units; a cross-modal
contrastive loss pulls the clip's visual embedding toward the embedding of its own AU description,
so the visual network learns the attributes. The contrastive loss is the trainer's
(:mod:`mer.training.contrastive`); this module is the network.

Reading and scaling, so LOSO over ~16 subjects x ~150 clips trains in minutes on a 2-core CPU:

- Inputs: the clip as the flow stage samples it (``flow.sequence_frames`` K, ``flow.sequence_size``
  S): ``"flows"`` ``(B, 2, K - 1, S, S)`` the TV-L1 flow (u, v) from the onset to each later
  sample, and with ``rgb`` ``"frames"`` ``(B, 3, K, S, S)`` RGB aligned crops evenly spaced from
  onset to offset. Both are resized to ``input_size`` frame by frame.
- Each stream a genuine 3D CNN: ``len(widths)`` stages of [3D conv 3 x 3 x 3 (time x height x
  width), BN, ReLU], stride 2 in space at every stage and 2 in time from the second stage on, so
  every layer mixes neighbouring time steps and the time axis survives to the last stage (K = 8:
  8 -> 4 -> 2 steps); then the mean over time and ``pool_grid x pool_grid`` cells in space. At
  ``input_size`` 32 and widths (16, 32, 64) about 15 MMAC per stream and clip forward.
- Head: the pooled vectors (concatenated, with ``rgb``), linear to ``embed_dim``, ReLU: the
  embedding. The classifier is dropout and a linear layer on it.
- Projection: one linear map ``embed_dim -> text_dim``, L2-normalised; the text space is that of
  the AU descriptions (384 for all-MiniLM-L6-v2). It is trained only by the contrastive term and
  unused when predicting. Linear, so the term shapes the embedding the classifier reads rather
  than a head of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, MerModel, centre_fields, grid_pool
from mer.models.registry import register_model

class Stream3d(nn.Module):
    """A small 3D CNN over a ``(B, C, T, H, W)`` volume, pooled to ``(B, widths[-1] *
    pool_grid ** 2)``.

    Stage ``i``: ``Conv3d(kernel 3 x 3 x 3, padding 1, stride (1 if i == 0 else 2, 2, 2))``, BN,
    ReLU; then the mean over time and a ``pool_grid x pool_grid`` average in space. T = 1 is
    allowed (the temporal kernel then sees the zero padding on either side).

    Args:
        in_channels: C.
        widths: channels of the stages; each stage halves H and W, each after the first halves T
            (rounding up).
        pool_grid: cells per side of the spatial pooling (1 = global).

    Shapes: ``(B, in_channels, T, H, W)`` -> ``(B, widths[-1] * pool_grid ** 2)``: the mean over
    time, then :func:`mer.models.base.grid_pool` in space.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], pool_grid: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for stage, width in enumerate(widths):
            layers += [nn.Conv3d(channels, width, 3, stride=(1 if stage == 0 else 2, 2, 2),
                                 padding=1, bias=False),
                       nn.BatchNorm3d(width), nn.ReLU()]
            channels = width
        self.layers = nn.Sequential(*layers)
        self.pool_grid = pool_grid

    def forward(self, x: Tensor) -> Tensor:
        """Return the pooled features ``(B, widths[-1] * pool_grid ** 2)`` of ``x``
        ``(B, C, T, H, W)``."""
        return grid_pool(self.layers(x).mean(dim=2), self.pool_grid)


@register_model("attr_contrastive")
class AttrContrastiveNet(MerModel):
    """3D CNN on the flows (and on the RGB frames with ``rgb``) with a projection head into the
    AU-text space.

    Args:
        input_size: side the frames and flows are resized to, in pixels (>= 16).
        widths: channels of the stages of each stream.
        embed_dim: size of the fused embedding (the classifier's input).
        text_dim: size of the text embeddings the projection head maps into.
        dropout: dropout probability before the classifier.
        pool_grid: each stream's last map is averaged over time and pooled to ``pool_grid x
            pool_grid`` cells in space (:func:`mer.models.base.grid_pool`; 1 = global pooling).
        rgb: with the RGB stream (the paper's two streams); False: the flow stream alone, and
            the model reads only ``"flows"``.
        centre_flows: subtract from each flow field its mean over the face (per clip, time step
            and channel), so a translation of the whole head between the onset and a later
            sample is removed before the network sees the field (ours; docs/attr_contrastive.md).

    Inputs: ``"flows"`` ``(B, 2, K - 1, H, W)`` (u, v in pixels) and, with ``rgb``, ``"frames"``
    ``(B, 3, K, H, W)`` RGB in [0, 1]. Embedding: ``(B, embed_dim)``; :meth:`project` of it: ``(B, text_dim)``
    unit vectors.
    """

    input_keys = ("frames", "flows")

    def __init__(
        self,
        input_size: int = 32,
        widths: Sequence[int] = (16, 32, 64),
        embed_dim: int = 128,
        text_dim: int = 384,
        dropout: float = 0.0,
        pool_grid: int = 1,
        rgb: bool = True,
        centre_flows: bool = False,
    ) -> None:
        widths = tuple(int(w) for w in widths)
        if input_size < 16:
            raise ValueError(f"attr_contrastive: input_size must be >= 16 pixels, got {input_size}")
        if not widths or min(widths) < 1:
            raise ValueError(f"attr_contrastive: widths must be positive ints, got {widths}")
        if embed_dim < 1 or text_dim < 1:
            raise ValueError(f"attr_contrastive: embed_dim and text_dim must be >= 1, got "
                             f"{embed_dim}, {text_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"attr_contrastive: dropout must be in [0, 1), got {dropout}")
        side = -(-input_size // 2 ** len(widths))  # the last map's side
        if not 1 <= pool_grid <= side:
            raise ValueError(f"attr_contrastive: pool_grid must be in 1..{side} (the last map's "
                             f"side), got {pool_grid}")
        self.input_keys = ("frames", "flows") if rgb else ("flows",)  # type: ignore[misc]
        super().__init__(input_size)
        self.text_dim = text_dim
        self.centre_flows = centre_flows
        self.rgb = Stream3d(INPUT_CHANNELS["frames"], widths, pool_grid) if rgb else None
        self.motion = Stream3d(INPUT_CHANNELS["flows"], widths, pool_grid)
        streams = 2 if rgb else 1
        self.fuse = nn.Sequential(nn.Linear(streams * widths[-1] * pool_grid ** 2, embed_dim),
                                  nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, NUM_CLASSES))
        self.projection = nn.Linear(embed_dim, text_dim)

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised frames and flows to the fused ``(B, embed_dim)`` embedding."""
        flows = centre_fields(inputs["flows"]) if self.centre_flows else inputs["flows"]
        motion = self.motion(flows)
        if self.rgb is None:
            return self.fuse(motion)
        return self.fuse(torch.cat([self.rgb(inputs["frames"]), motion], dim=1))

    def project(self, embedding: Tensor) -> Tensor:
        """Map embeddings ``(B, embed_dim)`` to unit vectors ``(B, text_dim)`` in the text space."""
        return F.normalize(self.projection(embedding), dim=1)
