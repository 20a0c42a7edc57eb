"""A small residual network with micro-attention (Wang, Peng, Bi and Chen, arXiv 1811.02360;
Neurocomputing 410, 2020).

The paper's idea: a ResNet whose residual blocks each carry a *micro-attention* unit, a light
bottom-up top-down (hourglass) mask branch whose spatial map ``M`` in ``(0, 1)`` re-weights the
block's residual features as ``(1 + M) * F`` (residual attention learning, so a poor mask cannot
erase features), focusing on the small facial areas where action units act; plus transfer
learning from macro-expressions to cope with the tiny micro-expression corpora.

Reading and scaling, so LOSO over ~16 subjects x ~150 clips trains in minutes on a 2-core CPU:

- Input (hyper-parameter ``inputs``): ``"apex_flow"`` (the default, ours): the grey apex frame and
  the optical flow onset -> apex (u, v, strain), resized to ``input_size`` (64 by default),
  standardised and stacked as 4 channels; the flow channels carry the motion, which is what a
  model trained on ~150 clips can learn from. ``"apex"``: the grey apex frame alone, closer to the
  paper, which feeds apex face images (RGB at 224 px there; grey at ``input_size`` here).
- Backbone: ResNet-10 layout (stem: 3 x 3 conv stride 2 and 3 x 3 max pool stride 2, i.e. the
  ResNet stem with a 3 x 3 instead of a 7 x 7 kernel; then four stages of one basic block each,
  strides 1, 2, 2, 2: 16, 8, 4, 2 pixels at 64) with widths ``(16, 32, 64, 128)`` instead of
  ``(64, ..., 512)``; global average pooling gives the embedding (``widths[-1]``), then dropout
  and a linear classifier. About 0.31 M parameters.
- Micro-attention unit, in every block, on the residual branch output ``F`` ``(B, C, h, w)``:
  max-pool 2 -> depthwise 3 x 3 conv, BN, ReLU -> max-pool 2 -> depthwise 3 x 3 conv, BN, ReLU ->
  bilinear upsampling with a skip from the first level -> bilinear upsampling to ``h x w`` ->
  1 x 1 conv to one channel -> sigmoid. It adds about ``23 C`` parameters per block (~2 % of
  the network).
- Transfer: pretrain the whole network on macro-expression clips (same architecture, same three
  classes) with ``mer.training.fit``, then pass that state as ``init_state=`` when fitting on
  micro-expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, MerModel, grid_pool, normalise_flow
from mer.models.registry import register_model

#: Strides of the four stages after the stride-4 stem (ResNet-10 layout).
STAGE_STRIDES: tuple[int, ...] = (1, 2, 2, 2)

#: Values of the ``inputs`` hyper-parameter -> the FeatureSet inputs read, stacked in this order.
INPUT_VARIANTS: Final[dict[str, tuple[str, ...]]] = {"apex_flow": ("apex", "flow"),
                                                    "apex": ("apex",)}


def _conv_bn(
    in_channels: int, out_channels: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    """3 x 3 convolution (no bias) followed by batch normalisation."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, groups=groups,
                  bias=False),
        nn.BatchNorm2d(out_channels),
    )


class MicroAttention(nn.Module):
    """Bottom-up top-down spatial attention mask.

    Args:
        channels: channels ``C`` of the features it attends to.

    Shapes: ``(B, C, h, w)`` features -> ``(B, 1, h, w)`` mask in ``(0, 1)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.down1 = _conv_bn(channels, channels, groups=channels)
        self.down2 = _conv_bn(channels, channels, groups=channels)
        self.head = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        """Return the mask ``(B, 1, h, w)`` for features ``x`` ``(B, C, h, w)``."""
        d1 = F.relu(self.down1(F.max_pool2d(x, 2, ceil_mode=True)))
        d2 = F.relu(self.down2(F.max_pool2d(d1, 2, ceil_mode=True)))
        u1 = F.interpolate(d2, size=d1.shape[-2:], mode="bilinear", align_corners=False) + d1
        u0 = F.interpolate(u1, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(u0))


class AttentionBlock(nn.Module):
    """Basic residual block whose residual branch is re-weighted by micro-attention.

    ``out = relu(shortcut(x) + (1 + M) * F)`` with ``F = bn(conv(relu(bn(conv(x)))))`` and ``M``
    the :class:`MicroAttention` mask of ``F`` (``out = relu(shortcut(x) + F)`` without it).

    Args:
        in_channels: channels of ``x``.
        out_channels: channels of the output.
        stride: spatial stride of the first convolution (and of the projection shortcut).
        attention: whether to add the micro-attention unit.

    Shapes: ``(B, in_channels, h, w)`` -> ``(B, out_channels, ceil(h / stride), ceil(w / stride))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, attention: bool) -> None:
        super().__init__()
        self.conv1 = _conv_bn(in_channels, out_channels, stride=stride)
        self.conv2 = _conv_bn(out_channels, out_channels)
        self.attention = MicroAttention(out_channels) if attention else None
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to ``x`` ``(B, C_in, h, w)``."""
        return self.forward_with_mask(x)[0]

    def forward_with_mask(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Apply the block; also return its mask ``(B, 1, h', w')`` (None without attention)."""
        f = self.conv2(F.relu(self.conv1(x)))
        mask = None
        if self.attention is not None:
            mask = self.attention(f)
            f = (1.0 + mask) * f
        return F.relu(f + self.shortcut(x)), mask


@register_model("micro_attention")
class MicroAttentionResNet(MerModel):
    """ResNet-10-style network with a micro-attention unit in each residual block.

    Args:
        input_size: side the inputs are resized to, in pixels (>= 32).
        widths: channels of the four stages.
        attention: add the micro-attention units (False gives the plain ResNet, for ablation).
        dropout: dropout probability before the classifier.
        inputs: ``"apex_flow"`` or ``"apex"`` (:data:`INPUT_VARIANTS`).
        pool_grid: the last map is average-pooled to ``pool_grid x pool_grid`` cells
            (:func:`mer.models.base.grid_pool`; 1, the paper's global pooling).
        normalise_flow: read each clip's flow at unit scale, centred
            (:func:`mer.models.base.normalise_flow`).

    Inputs: ``"apex"`` ``(B, 1, H, W)`` grey in [0, 1] and, with ``inputs="apex_flow"``,
    ``"flow"`` ``(B, 3, H, W)`` (u, v, strain), any H = W. Embedding: ``(B, widths[-1] *
    pool_grid ** 2)``. The stages run at ``input_size / 4``,
    ``/ 8``, ``/ 16`` and ``/ 32`` pixels.
    """

    input_keys = ("apex", "flow")

    def __init__(
        self,
        input_size: int = 64,
        widths: Sequence[int] = (16, 32, 64, 128),
        attention: bool = True,
        dropout: float = 0.0,
        inputs: Literal["apex_flow", "apex"] = "apex_flow",
        pool_grid: int = 1,
        normalise_flow: bool = False,
    ) -> None:
        widths = tuple(int(w) for w in widths)
        if inputs not in INPUT_VARIANTS:
            raise ValueError(f"micro_attention: inputs must be one of {sorted(INPUT_VARIANTS)}, "
                             f"got {inputs!r}")
        self.input_keys = INPUT_VARIANTS[inputs]  # type: ignore[misc]  # per instance here
        if input_size < 32:
            raise ValueError(f"micro_attention: input_size must be >= 32 pixels, got {input_size}")
        if len(widths) != len(STAGE_STRIDES) or min(widths) < 1:
            raise ValueError(f"micro_attention: widths must be {len(STAGE_STRIDES)} positive ints, "
                             f"got {widths}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"micro_attention: dropout must be in [0, 1), got {dropout}")
        if not 1 <= pool_grid <= input_size // 32:
            raise ValueError(f"micro_attention: pool_grid must be in 1..{input_size // 32} (the "
                             f"last map's side), got {pool_grid}")
        super().__init__(input_size)
        self.pool_grid = pool_grid
        self.normalise_flow = normalise_flow
        in_channels = sum(INPUT_CHANNELS[key] for key in self.input_keys)
        self.stem = _conv_bn(in_channels, widths[0], stride=2)
        blocks = []
        for c_in, c_out, stride in zip((widths[0], *widths[:-1]), widths, STAGE_STRIDES,
                                       strict=True):
            blocks.append(AttentionBlock(c_in, c_out, stride, attention))
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Dropout(dropout),
                                        nn.Linear(widths[-1] * pool_grid ** 2, NUM_CLASSES))

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised :attr:`input_keys` to the ``(B, widths[-1] * pool_grid ** 2)``
        embedding."""
        return grid_pool(self.blocks(self._stem(inputs)), self.pool_grid)

    def _stem(self, inputs: dict[str, Tensor]) -> Tensor:
        if self.normalise_flow and "flow" in inputs:
            inputs = {**inputs, "flow": normalise_flow(inputs["flow"])}
        x = torch.cat([inputs[key] for key in self.input_keys], dim=1)
        return F.max_pool2d(F.relu(self.stem(x)), kernel_size=3, stride=2, padding=1)

    @torch.no_grad()
    def attention_masks(self, inputs: dict[str, Tensor]) -> list[Tensor]:
        """Return each block's micro-attention mask, for post-hoc visualisation.

        Args:
            inputs: raw ``key -> (B, C, H, W)`` tensors holding :attr:`input_keys` (resized and
                standardised here, as in the forward pass).

        Returns:
            One ``(B, 1, h_i, w_i)`` mask in ``(0, 1)`` per block (``input_size / 4`` to ``/ 32``
            pixels), in block order; empty without attention units.
        """
        x = self._stem(self.norm(self.resize_inputs(inputs)))
        masks = []
        for block in self.blocks:
            x, mask = block.forward_with_mask(x)
            if mask is not None:
                masks.append(mask)
        return masks
