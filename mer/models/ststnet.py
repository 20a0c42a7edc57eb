"""STSTNet: the Shallow Triple Stream Three-dimensional CNN (Liong et al., FG 2019, MEGC2019).

Layers as published (arXiv 1902.03634, and the authors' MATLAB ``STSTNet.mat``): the input is the
three optical-flow features (here ``u``, ``v``, strain) resized to 28 x 28 x 3; three parallel
streams, each a 3 x 3 convolution over all three channels ('same' padding) with 3, 5 and 8
filters, then ReLU, batch normalisation and 3 x 3 max pooling with stride 3 and 'same' padding
(28 -> 10); the 16 maps are concatenated, average pooled 2 x 2 with stride 2 (10 -> 5), flattened
(5 x 5 x 16 = 400) and fully connected to the 3 classes (1,683 parameters at 28 x 28).

Reading: MATLAB's 'same' pooling pads 28 to 30, i.e. one pixel each side, which is what the
pooling here does. The paper has no dropout; ``dropout`` (default 0) adds it after each stream's
pooling, as some re-implementations (e.g. the MEB toolkit) do.
"""

from __future__ import annotations

from torch import Tensor, nn

from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, MerModel
from mer.models.registry import register_model

#: Filters of the three streams.
STREAM_FILTERS: tuple[int, ...] = (3, 5, 8)


def _pooled_size(size: int) -> int:
    """Side after the 3 x 3 stride-3 'same' max pooling and the 2 x 2 average pooling."""
    return ((size + 2 - 3) // 3 + 1) // 2


class _Streams(nn.Sequential):
    """The three streams at once: Conv 3 x 3 ('same') -> ReLU -> BatchNorm -> MaxPool 3 x 3
    stride 3 ('same') -> Dropout, with ``sum(STREAM_FILTERS)`` filters.

    Every layer after the convolution acts on each channel alone, so one convolution with
    3 + 5 + 8 filters followed by those layers is the same network as three streams whose outputs
    are concatenated (stream ``i`` is channels ``sum(STREAM_FILTERS[:i])`` onwards), in a third
    of the operator calls.
    """

    def __init__(self, in_channels: int, dropout: float) -> None:
        filters = sum(STREAM_FILTERS)
        super().__init__(
            nn.Conv2d(in_channels, filters, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(filters),
            nn.MaxPool2d(kernel_size=3, stride=3, padding=1),
            nn.Dropout(dropout),
        )


@register_model("ststnet")
class STSTNet(MerModel):
    """Shallow Triple Stream Three-dimensional CNN on the optical-flow input.

    Args:
        input_size: side the flow maps are resized to, in pixels (28 in the paper; >= 6).
        dropout: dropout probability after each stream (0 = as published).

    Inputs: ``"flow"`` ``(B, 3, H, W)`` = (u, v, strain), any H, W (resized bilinearly with
    antialiasing, values unchanged, then standardised: the flow's pixel scale does not matter).
    Embedding: ``(B, 16 * s * s)`` with ``s = input_size`` after pooling (400 at 28).
    """

    input_keys = ("flow",)

    def __init__(self, input_size: int = 28, dropout: float = 0.0) -> None:
        if input_size < 6:
            raise ValueError(f"ststnet: input_size must be >= 6 pixels, got {input_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ststnet: dropout must be in [0, 1), got {dropout}")
        super().__init__(input_size)
        self.streams = _Streams(INPUT_CHANNELS["flow"], dropout)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        embed_dim = sum(STREAM_FILTERS) * _pooled_size(input_size) ** 2
        self.classifier = nn.Linear(embed_dim, NUM_CLASSES)

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised ``"flow"`` ``(B, 3, s, s)`` to the ``(B, 400)`` (at 28) embedding."""
        return self.pool(self.streams(inputs["flow"])).flatten(1)

