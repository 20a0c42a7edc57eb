"""Attribute embedding network: two small 3D CNN streams (appearance, flow), fused, with a
projection head into a text space (Song et al., arXiv 2205.14643).

The paper's idea: a 3D CNN extracts features from the RGB clip and from its optical flow and fuses
them; a text encoder (BERT) embeds the FACS description of the clip's action units; a cross-modal
contrastive loss pulls the clip's visual embedding toward the embedding of its own AU description,
so the visual network learns the attributes. The contrastive loss is the trainer's
(:mod:`mer.training.contrastive`); this module is the network.

Reading and scaling, so LOSO over ~16 subjects x ~150 clips trains in minutes on a 2-core CPU:

- Appearance stream: what the flow stage keeps of a clip is the grey onset and apex frames, so the
  "clip" is the volume ``[onset, apex]`` ``(B, 1, T=2, H, W)``. Its first 3D convolution has a
  temporal kernel of 2 (valid padding), which merges the two frames into depth 1; the next layers
  are 3D convolutions of temporal kernel 1, i.e. 2D convolutions. This is honestly a 2D CNN over a
  two-frame stack with a temporal first layer; more frames (a change to the flow stage) would make
  it a real 3D CNN with no code change here beyond ``frames``. Grey, not RGB: the corpora's
  aligned faces are stored grey.
- Flow stream: the onset -> apex flow ``(u, v, strain)`` as a depth-1 volume ``(B, 3, 1, H, W)``,
  same layout (temporal kernel 1).
- Each stream: ``len(widths)`` stages of [3D conv 3 x 3 stride 2, BN, ReLU] (the first with
  temporal kernel ``T``), then global average pooling; at ``input_size`` 48 (the default) the
  stages run at 24, 12 and 6 pixels: about 18 MFLOP per clip forward and backward.
- Fusion: concatenation of the two pooled vectors, linear to ``embed_dim``, ReLU: the embedding.
  The classifier is dropout and a linear layer on it.
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

from mer.models.base import NUM_CLASSES, MerModel
from mer.models.registry import register_model

#: Frames of the appearance volume, in temporal order.
APPEARANCE_KEYS: tuple[str, ...] = ("onset", "apex")


class Stream3d(nn.Module):
    """A small 3D CNN over a ``(B, C, T, H, W)`` volume, pooled to ``(B, widths[-1])``.

    Args:
        in_channels: C.
        frames: T; the first convolution's temporal kernel (valid padding: depth 1 after it).
        widths: channels of the stages; each stage halves H and W.

    Shapes: ``(B, in_channels, frames, H, W)`` -> ``(B, widths[-1])``.
    """

    def __init__(self, in_channels: int, frames: int, widths: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for stage, width in enumerate(widths):
            kernel_t = frames if stage == 0 else 1
            layers += [nn.Conv3d(channels, width, (kernel_t, 3, 3), stride=(1, 2, 2),
                                 padding=(0, 1, 1), bias=False),
                       nn.BatchNorm3d(width), nn.ReLU()]
            channels = width
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Return the pooled features ``(B, widths[-1])`` of ``x`` ``(B, C, T, H, W)``."""
        return self.layers(x).mean(dim=(2, 3, 4))


@register_model("attr_contrastive")
class AttrContrastiveNet(MerModel):
    """Two-stream (appearance, flow) 3D CNN with a projection head into the AU-text space.

    Args:
        input_size: side the inputs are resized to, in pixels (>= 16).
        widths: channels of the stages of each stream.
        embed_dim: size of the fused embedding (the classifier's input).
        text_dim: size of the text embeddings the projection head maps into.
        dropout: dropout probability before the classifier.

    Inputs: ``"onset"``, ``"apex"`` ``(B, 1, H, W)`` grey in [0, 1] and ``"flow"``
    ``(B, 3, H, W)`` (u, v, strain). Embedding: ``(B, embed_dim)``; :meth:`project` of it:
    ``(B, text_dim)`` unit vectors.
    """

    input_keys = ("onset", "apex", "flow")

    def __init__(
        self,
        input_size: int = 48,
        widths: Sequence[int] = (16, 32, 64),
        embed_dim: int = 128,
        text_dim: int = 384,
        dropout: float = 0.0,
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
        super().__init__(input_size)
        self.text_dim = text_dim
        self.appearance = Stream3d(1, len(APPEARANCE_KEYS), widths)
        self.motion = Stream3d(3, 1, widths)
        self.fuse = nn.Sequential(nn.Linear(2 * widths[-1], embed_dim), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, NUM_CLASSES))
        self.projection = nn.Linear(embed_dim, text_dim)

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised onset, apex and flow to the fused ``(B, embed_dim)`` embedding."""
        volume = torch.stack([inputs[key] for key in APPEARANCE_KEYS], dim=2)  # (B, 1, 2, H, W)
        motion = inputs["flow"].unsqueeze(2)  # (B, 3, 1, H, W)
        return self.fuse(torch.cat([self.appearance(volume), self.motion(motion)], dim=1))

    def project(self, embedding: Tensor) -> Tensor:
        """Map embeddings ``(B, embed_dim)`` to unit vectors ``(B, text_dim)`` in the text space."""
        return F.normalize(self.projection(embedding), dim=1)
