"""A small GroupNorm CNN backbone, ``lightman``, for LightmanNet's meta-auxiliary learning
(Wang et al., "Meta-Auxiliary Learning for Micro-Expression Recognition", arXiv 2404.12024).

LightmanNet is a learning method (``mer.training.meta_auxiliary``, ``docs/lightman.md``) that
trains any registered backbone; its auxiliary alignment branch lives in that trainer. This
network is one light backbone for it (the default params.yaml entry trains ``micro_attention``);
the paper publishes no MER code, so the layers are ours, kept small so that bi-level training of
a leave-one-subject-out run takes minutes on a 2-core CPU:

- Input: the optical flow onset -> apex (u, v, strain) and the grey apex frame, resized to
  ``input_size`` (32 by default), standardised per channel and stacked as 4 channels.
- Encoder: three blocks of 3 x 3 convolution, GroupNorm, ReLU and 2 x 2 max pooling with
  ``widths`` channels (16, 32, 64: 32 -> 16 -> 8 -> 4 pixels), flattened (so the embedding keeps
  *where* the face moved: brows versus mouth corners), then a linear layer and ReLU to the
  ``embed_dim`` embedding (64). GroupNorm rather than BatchNorm: the network holds no running
  statistics, so the inner-loop adaptation is a pure function of the weights
  (``torch.func.functional_call``) and a support set of 6 clips does not pollute batch
  statistics.
- Head (``classifier``): dropout and a linear layer to the 3 classes.

About 0.1 M parameters at the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, MerModel
from mer.models.registry import register_model

#: Encoder blocks; each halves the side.
N_BLOCKS = 3


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3 x 3 conv -> GroupNorm (4 groups, or 1 if 4 does not divide the width) -> ReLU -> pool 2."""
    groups = 4 if out_channels % 4 == 0 else 1
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.GroupNorm(groups, out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


@register_model("lightman")
class LightmanNet(MerModel):
    """Encoder of three conv blocks and a 3-class head.

    Args:
        input_size: side the inputs are resized to, in pixels (a multiple of 8, >= 16).
        widths: channels of the three convolution blocks.
        embed_dim: size D of the embedding.
        dropout: dropout probability before the primary classifier.

    Inputs: ``"flow"`` ``(B, 3, H, W)`` (u, v, strain) and ``"apex"`` ``(B, 1, H, W)`` grey in
    [0, 1], any H = W. Embedding: ``(B, embed_dim)``; :meth:`forward` gives the ``(B, 3)`` logits.
    """

    input_keys = ("flow", "apex")

    def __init__(
        self,
        input_size: int = 32,
        widths: Sequence[int] = (16, 32, 64),
        embed_dim: int = 64,
        dropout: float = 0.0,
    ) -> None:
        widths = tuple(int(w) for w in widths)
        if input_size < 16 or input_size % 8:
            raise ValueError(f"lightman: input_size must be a multiple of 8 and >= 16, "
                             f"got {input_size}")
        if len(widths) != N_BLOCKS or min(widths) < 1:
            raise ValueError(f"lightman: widths must be {N_BLOCKS} positive ints, got {widths}")
        if embed_dim < 1:
            raise ValueError(f"lightman: embed_dim must be >= 1, got {embed_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"lightman: dropout must be in [0, 1), got {dropout}")
        super().__init__(input_size)
        in_channels = sum(INPUT_CHANNELS[key] for key in self.input_keys)
        self.encoder = nn.Sequential(
            *(_block(c_in, c_out) for c_in, c_out in zip((in_channels, *widths[:-1]), widths,
                                                           strict=True)),
            nn.Flatten(),
            nn.Linear(widths[-1] * (input_size // 2**N_BLOCKS) ** 2, embed_dim),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, NUM_CLASSES))
        self.embed_dim = embed_dim

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised ``"flow"`` and ``"apex"`` ``(B, C, s, s)`` to ``(B, embed_dim)``."""
        return self.encoder(torch.cat([inputs[key] for key in self.input_keys], dim=1))
