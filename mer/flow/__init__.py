"""Optical flow and strain (TV-L1 in PyTorch, batched, CPU or CUDA).

Flow follows OpenCV's convention: channel 0 = x, channel 1 = y, in pixels, and
``frame1(p + flow(p)) ~ frame0(p)``.
"""

from mer.flow.features import ClipFlow, ClipInput, clip_flow, clip_flows
from mer.flow.params import FAST, PRESETS, TVL1Params
from mer.flow.strain import optical_strain
from mer.flow.tvl1 import tvl1_flow

__all__ = [
    "FAST",
    "PRESETS",
    "ClipFlow",
    "ClipInput",
    "TVL1Params",
    "clip_flow",
    "clip_flows",
    "optical_strain",
    "tvl1_flow",
]
