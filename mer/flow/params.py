"""Parameters of TV-L1 optical flow, named and defaulted as OpenCV's ``DualTVL1OpticalFlow``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TVL1Params", "FAST", "PRESETS"]


@dataclass(frozen=True)
class TVL1Params:
    """TV-L1 parameters; field names and defaults are OpenCV's (``cv2.optflow.DualTVL1...``).

    The values mean what they mean in OpenCV on 8-bit intensities (0..255): frames in [0, 1] are
    multiplied by 255 before the solver runs, as OpenCV does with float input.

    Attributes:
        tau: time step of the primal-dual scheme (stable for tau <= 0.25).
        lambda_: weight of the L1 data term (``lambda`` in OpenCV and in :meth:`from_mapping`).
        theta: coupling between the flow ``u`` and its auxiliary ``v``.
        nscales: number of pyramid levels; fewer are used when a level would be under 16 px.
        warps: number of warpings of frame 1 per level.
        epsilon: stopping threshold: a level's inner loop stops when the mean over pixels of
            ``|u_new - u_old|^2`` falls to ``epsilon^2`` or below.
        inner_iterations: iterations between two median filterings.
        outer_iterations: median filterings per warp (each followed by up to
            ``inner_iterations`` iterations).
        scale_step: ratio between the sizes of two pyramid levels.
        gamma: weight of the illumination term. Only 0 is supported (OpenCV's default).
        median_filtering: size of the median filter applied to the flow (1 or less: none).
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"TVL1Params.{name}={getattr(self, name)!r}: {rule}")

        for name in ("tau", "lambda_", "theta", "epsilon", "scale_step", "gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(name, "must be a number")
            if not math.isfinite(value):
                raise bad(name, "must be finite")
        for name in ("nscales", "warps", "inner_iterations", "outer_iterations", "median_filtering"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(name, "must be an integer")
        if self.tau <= 0:
            raise bad("tau", "must be > 0 (the scheme is stable for tau <= 0.25)")
        if self.lambda_ <= 0:
            raise bad("lambda_", "must be > 0")
        if self.theta <= 0:
            raise bad("theta", "must be > 0")
        if self.epsilon < 0:
            raise bad("epsilon", "must be >= 0")
        if not 0 < self.scale_step < 1:
            raise bad("scale_step", "must be in (0, 1)")
        for name in ("nscales", "warps", "inner_iterations", "outer_iterations"):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if self.gamma != 0:
            raise bad("gamma", "only 0 (no illumination term, OpenCV's default) is implemented")
        if self.median_filtering > 1 and self.median_filtering % 2 == 0:
            raise bad("median_filtering", "must be odd (or <= 1 for no median filter)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TVL1Params:
        """Build from a dict such as a params.yaml section; the key may be ``lambda`` or ``lambda_``.

        Unknown keys raise ``ValueError`` naming them (a typo must not silently use a default).
        """
        data = dict(values)
        if "lambda" in data:
            if "lambda_" in data:
                raise ValueError("TVL1Params: give 'lambda' or 'lambda_', not both")
            data["lambda_"] = data.pop("lambda")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            names = sorted(known - {"lambda_"} | {"lambda"})
            raise ValueError(f"TVL1Params: unknown key(s) {unknown}; known keys: {names}")
        return cls(**data)

    def to_mapping(self) -> dict[str, Any]:
        """The parameters as a plain dict with OpenCV's key ``lambda`` (inverse of from_mapping)."""
        data = dataclasses.asdict(self)
        data["lambda"] = data.pop("lambda_")
        return data

    def replace(self, **changes: Any) -> TVL1Params:
        """A copy with some fields changed (``lambda_`` for lambda)."""
        return dataclasses.replace(self, **changes)


#: A cheaper setting for large batches: fewer warps and iterations. Not OpenCV's defaults; its
#: accuracy against the defaults is measured in ``benchmarks/flow_benchmark.py``.
FAST = TVL1Params(warps=3, inner_iterations=10, outer_iterations=2)

#: Named presets: "opencv" (the defaults) and "fast".
PRESETS: dict[str, TVL1Params] = {"opencv": TVL1Params(), "fast": FAST}
