"""Presets of TV-L1 optical flow (:class:`mer.config.TVL1Params`, OpenCV's names and defaults)."""

from __future__ import annotations

from mer.config import TVL1Params

__all__ = ["FAST", "PRESETS", "TVL1Params"]

#: A cheaper setting for large batches: fewer warps and iterations. Not OpenCV's defaults; its
#: accuracy against the defaults is measured in ``benchmarks/flow_benchmark.py``.
FAST = TVL1Params(warps=3, inner_iterations=10, outer_iterations=2)

#: Named presets: "opencv" (the defaults) and "fast".
PRESETS: dict[str, TVL1Params] = {"opencv": TVL1Params(), "fast": FAST}
