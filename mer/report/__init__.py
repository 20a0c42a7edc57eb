"""The HTML report: one self-contained page (inline PNGs, inline style, no script, no link out).

Public API: :func:`build_report` from :class:`ReportInputs`, :func:`choose_clips`,
:class:`FlowClip`, :func:`parse_comparisons` (the paired comparisons file), and the flow pictures
:func:`flow_to_rgb`, :func:`wheel_legend`; :class:`AttentionClip` (micro-attention maps to show).
"""

from mer.report.attention import AttentionClip
from mer.report.build import FlowClip, ReportInputs, build_report, choose_clips
from mer.report.compare import Comparisons, parse_comparisons
from mer.report.flowviz import colour_wheel, flow_to_rgb, png_bytes, wheel_legend

__all__ = [
    "AttentionClip",
    "Comparisons",
    "FlowClip",
    "ReportInputs",
    "build_report",
    "choose_clips",
    "colour_wheel",
    "flow_to_rgb",
    "parse_comparisons",
    "png_bytes",
    "wheel_legend",
]
