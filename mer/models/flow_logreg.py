"""``flow_logreg``: the plain baseline every deep model must beat.

Multinomial logistic regression on the onset -> apex optical flow: ``u``, ``v`` and the optical
strain, each downsampled (bilinear, antialiased) to a ``grid x grid`` map and standardised per
channel with the training clips' statistics, flattened to ``3 * grid * grid`` features, one
linear layer to the 3 classes. It is fitted to convergence by the ``logistic`` trainer
(class-balanced cross-entropy with a fixed L2 penalty, :mod:`mer.training.logistic`), so it has
no epochs, learning rate or seed to tune.
"""

from __future__ import annotations

from torch import Tensor, nn

from mer.models.base import INPUT_CHANNELS, NUM_CLASSES, MerModel
from mer.models.registry import register_model


class FlowLogReg(MerModel):
    """Logistic regression on the downsampled flow.

    Args:
        grid: side of the map each flow channel is downsampled to, in cells (>= 1).
    """

    input_keys = ("flow",)

    def __init__(self, grid: int = 8) -> None:
        if grid < 1:
            raise ValueError(f"flow_logreg: grid must be >= 1, got {grid}")
        super().__init__(input_size=grid)
        self.classifier = nn.Linear(INPUT_CHANNELS["flow"] * grid * grid, NUM_CLASSES)

    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """``flow`` ``(B, 3, grid, grid)`` standardised -> features ``(B, 3 * grid * grid)``."""
        return inputs["flow"].flatten(1)


@register_model("flow_logreg")
def flow_logreg(grid: int = 8) -> FlowLogReg:
    """Build the flow logistic-regression baseline (see :class:`FlowLogReg`)."""
    return FlowLogReg(grid=grid)
