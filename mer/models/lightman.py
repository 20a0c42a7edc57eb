"""LightmanNet: a shared encoder with a primary (emotion) head and an auxiliary alignment head
(Wang et al., "Meta-Auxiliary Learning for Micro-Expression Recognition", arXiv 2404.12024).

The paper's model is a dual-branch network trained by bi-level optimisation (see
``mer.training.meta_auxiliary`` and ``docs/lightman.md``): a primary branch learns MER features
through the recognition task, an auxiliary branch guides the shared features through an
alignment task between micro- and macro-expressions. This module holds the network only; the
paper publishes no MER code, so the layers are ours, kept small so that bi-level training of a
leave-one-subject-out run takes minutes on a 2-core CPU:

- Input: the optical flow onset -> apex (u, v, strain) and the grey apex frame, resized to
  ``input_size`` (32 by default), standardised per channel and stacked as 4 channels.
- Encoder: three blocks of 3 x 3 convolution, GroupNorm, ReLU and 2 x 2 max pooling with
  ``widths`` channels (16, 32, 64: 32 -> 16 -> 8 -> 4 pixels), flattened (so the embedding keeps
  *where* the face moved: brows versus mouth corners), then a linear layer and ReLU to the
  ``embed_dim`` embedding (64). GroupNorm rather than BatchNorm: the network holds no running
  statistics, so the inner-loop adaptation is a pure function of the weights
  (``torch.func.functional_call``) and a support set of 6 clips does not pollute batch
  statistics.
- Primary head (``classifier``): dropout and a linear layer to the 3 classes.
- Auxiliary head (``aligner``): a two-layer MLP ``embed_dim -> embed_dim -> embed_dim`` that maps
  a micro-expression embedding into the macro-expression embedding space, where the trainer
  aligns it with the prototype of the macro clips of the same emotion.

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
    """Dual-branch network: shared encoder, primary 3-class head, auxiliary alignment head.

    Args:
        input_size: side the inputs are resized to, in pixels (a multiple of 8, >= 16).
        widths: channels of the three convolution blocks.
        embed_dim: size D of the shared embedding (and of the alignment space).
        dropout: dropout probability before the primary classifier.

    Inputs: ``"flow"`` ``(B, 3, H, W)`` (u, v, strain) and ``"apex"`` ``(B, 1, H, W)`` grey in
    [0, 1], any H = W. Embedding: ``(B, embed_dim)``. :meth:`forward` gives the ``(B, 3)`` logits;
    ``forward(inputs, align=True)`` also gives the ``(B, embed_dim)`` aligned embedding.
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
        self.aligner = nn.Sequential(
            nn.Linear(embed_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim),
        )
        self.embed_dim = embed_dim

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised ``"flow"`` and ``"apex"`` ``(B, C, s, s)`` to ``(B, embed_dim)``."""
        return self.encoder(torch.cat([inputs[key] for key in self.input_keys], dim=1))

    def forward(  # type: ignore[override]
        self, inputs: dict[str, Tensor], *, align: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Return the logits ``(B, 3)``; with ``align``, also the aligned embedding.

        Args:
            inputs: raw ``key -> (B, C, H, W)`` tensors holding ``"flow"`` and ``"apex"``.
            align: also run the auxiliary head.

        Returns:
            ``(B, 3)`` logits, or ``((B, 3) logits, (B, embed_dim) aligned embedding)``.
        """
        z = self.features(inputs)
        logits = self.classifier(z)
        if align:
            return logits, self.aligner(z)
        return logits
