"""MIACNet, a two-branch micro-action network (after Li, Niu and Zhao, "From Macro to Micro:
Boosting micro-expression recognition via pre-training on macro-expression videos", arXiv
2405.16451).

The paper's idea: decouple *facial position* features (where the parts of this face are) from
*facial action* features (what moved), and let the position features tell the network where to
look for the action, so it locates facial actions more accurately. There is no official code;
this layout is ours (see ``docs/ma2mi.md``):

- Position branch: a :class:`ConvEncoder` on the grey onset frame ``(B, 1, s, s)`` (the face at
  rest: appearance and the layout of eyes, brows, mouth), ``s = input_size``.
- Action branch: a :class:`ConvEncoder` of the same class on the grey difference ``apex - onset``
  ``(B, 1, s, s)`` (the motion).
- Flow branch (``use_flow``): a third :class:`ConvEncoder` on the optical flow onset -> apex
  ``(B, 3, s, s)`` (u, v, strain), its map concatenated to the action map, so the flow is used
  from the first step of every variant alike and a pretrained action encoder starts exactly as it
  was pretrained (MA2MI has no flow).
- Fusion (:class:`PositionGate`): a spatial mask ``M`` in ``(0, 1)`` computed from the position
  map re-weights the action (and flow) map, ``A' = (1 + M) * A`` (residual attention, so a poor
  mask cannot erase the action); the embedding is ``[avgpool(A'), avgpool(P)]`` (or
  ``avgpool(A')`` alone with ``position_in_embedding=False``), then dropout and a linear
  classifier.

Each encoder normalises its own input with a batch norm (no affine), so the pixel difference of a
micro-expression (a few grey levels) and of a macro-expression (tens of levels) both reach the
convolutions at unit scale; the running statistics adapt when the network is finetuned.

MA2MI pretraining (``mer.pretraining.ma2mi``) trains ``position``, ``action`` and ``gate`` by
future-frame reconstruction on macro-expression clips; their state dict keys are those of this
model, so ``mer.pretraining.transfer.complete_state`` turns them into an ``init_state``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, MerModel, grid_pool, normalise_flow
from mer.models.micro_attention import AttentionBlock
from mer.models.registry import register_model

#: State-dict prefixes of the parts MA2MI pretrains.
PRETRAINED_PREFIXES: tuple[str, ...] = ("position.", "action.", "gate.")


class ConvEncoder(nn.Module):
    """A small residual encoder: input batch norm, 3 x 3 stem (stride 2), basic blocks (stride 2).

    Args:
        in_channels: channels of the input.
        widths: channels of the stem and of each following block; the map is at ``1 / 2 **
            len(widths)`` of the input side.

    Shapes: ``(B, in_channels, s, s)`` -> ``(B, widths[-1], s / 2 ** len(widths), ...)``; the
    optional ``extra`` ``(B, widths[0], s / 2, s / 2)`` is added to the stem's output before its
    ReLU.
    """

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.input_norm = nn.BatchNorm2d(in_channels, affine=False)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
        )
        self.blocks = nn.Sequential(*(
            AttentionBlock(c_in, c_out, stride=2, attention=False)
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        ))

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        """Encode ``x`` ``(B, C, s, s)``; add ``extra`` to the stem output if given."""
        h = self.stem(self.input_norm(x))
        if extra is not None:
            h = h + extra
        return self.blocks(F.relu(h))


class PositionGate(nn.Module):
    """Spatial gate of the action map by the position map: ``A' = (1 + M(P)) * A``.

    Args:
        channels: channels of the position map ``P``.

    Shapes: ``P``, ``A`` ``(B, C, h, w)`` -> ``(A' (B, C_a, h, w), M (B, 1, h, w))``, ``M`` in
    ``(0, 1)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mask = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, 1, kernel_size=1),
        )

    def forward(self, position: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Return the gated action map and the mask."""
        mask = torch.sigmoid(self.mask(position))
        return (1.0 + mask) * action, mask


@register_model("miacnet")
class MIACNet(MerModel):
    """Two-branch micro-action network: position branch gates the action branch.

    Args:
        input_size: side the inputs are resized to, in pixels (>= 16, a multiple of
            ``2 ** len(widths)``).
        widths: channels of the stem and blocks of each encoder (both branches alike).
        use_flow: encode the optical flow in a third branch beside the action (False: frames
            only).
        position_in_embedding: concatenate the pooled position map to the pooled gated action map.
        dropout: dropout probability before the classifier.
        pool_grid: the maps are average-pooled to ``pool_grid x pool_grid`` cells
            (:func:`mer.models.base.grid_pool`; 1 = global pooling).
        normalise_flow: the flow branch reads each clip's flow at unit scale, centred
            (:func:`mer.models.base.normalise_flow`).

    Inputs: ``"onset"``, ``"apex"`` ``(B, 1, H, W)`` grey in [0, 1] and ``"flow"`` ``(B, 3, H, W)``
    (u, v, strain), any H = W. Embedding: ``(B, 3 * widths[-1] * pool_grid ** 2)`` (one
    ``widths[-1]`` less without the flow, one less without the position). About 65 k parameters
    with the defaults.
    """

    input_keys = ("onset", "apex", "flow")

    def __init__(
        self,
        input_size: int = 64,
        widths: Sequence[int] = (8, 16, 32),
        use_flow: bool = True,
        position_in_embedding: bool = True,
        dropout: float = 0.0,
        pool_grid: int = 1,
        normalise_flow: bool = False,
    ) -> None:
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"miacnet: widths must be >= 2 positive ints, got {widths}")
        if input_size < 16 or input_size % 2 ** len(widths):
            raise ValueError(f"miacnet: input_size must be >= 16 and a multiple of "
                             f"{2 ** len(widths)} (widths {widths}), got {input_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"miacnet: dropout must be in [0, 1), got {dropout}")
        if not 1 <= pool_grid <= input_size // 2 ** len(widths):
            raise ValueError(f"miacnet: pool_grid must be in 1..{input_size // 2 ** len(widths)} "
                             f"(the maps' side), got {pool_grid}")
        super().__init__(input_size)
        self.pool_grid = pool_grid
        self.widths = widths
        self.use_flow = use_flow
        self.normalise_flow = normalise_flow
        self.position_in_embedding = position_in_embedding
        self.position = ConvEncoder(INPUT_CHANNELS["onset"], widths)
        self.action = ConvEncoder(INPUT_CHANNELS["apex"], widths)
        self.gate = PositionGate(widths[-1])
        self.flow: ConvEncoder | None = (ConvEncoder(INPUT_CHANNELS["flow"], widths)
                                         if use_flow else None)
        action_dim = widths[-1] * (2 if use_flow else 1)
        embed_dim = action_dim + (widths[-1] if position_in_embedding else 0)
        self.classifier = nn.Sequential(nn.Dropout(dropout),
                                        nn.Linear(embed_dim * pool_grid ** 2, NUM_CLASSES))

    def maps(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Return the position map, the gated action (and flow) map and the gate mask.

        Args:
            inputs: standardised ``key -> (B, C, input_size, input_size)``.

        Returns:
            ``P`` ``(B, widths[-1], h, h)``, ``A'`` ``(B, widths[-1] * (2 if use_flow else 1),
            h, h)`` (action channels first) and ``M`` ``(B, 1, h, h)``, ``h = input_size / 2 **
            len(widths)``.
        """
        onset, apex = inputs["onset"], inputs["apex"]
        position = self.position(onset)
        action = self.action(apex - onset)
        if self.flow is not None:
            flow = normalise_flow(inputs["flow"]) if self.normalise_flow else inputs["flow"]
            action = torch.cat([action, self.flow(flow)], dim=1)
        gated, mask = self.gate(position, action)
        return position, gated, mask

    def encoder_features(self, inputs: dict[str, Tensor]) -> Tensor:
        """The pooled features of the parts MA2MI pretrains (position, action, gate; no flow).

        Args:
            inputs: standardised ``key -> (B, C, input_size, input_size)``.

        Returns:
            ``(B, 2 * widths[-1] * pool_grid ** 2)``: ``[pool((1 + M) * A), pool(P)]``, pooled
            as the embedding is (:func:`mer.models.base.grid_pool`).
        """
        onset = inputs["onset"]
        position = self.position(onset)
        gated, _ = self.gate(position, self.action(inputs["apex"] - onset))
        return torch.cat([grid_pool(gated, self.pool_grid), grid_pool(position, self.pool_grid)],
                         dim=1)

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised inputs to the fused ``(B, D)`` embedding."""
        position, gated, _ = self.maps(inputs)
        pooled = [grid_pool(gated, self.pool_grid)]
        if self.position_in_embedding:
            pooled.append(grid_pool(position, self.pool_grid))
        return torch.cat(pooled, dim=1)
