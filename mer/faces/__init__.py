"""Face crop and alignment: one dlib detection per clip, one similarity, one batched warp.

Public API: :func:`align_clip` -> :class:`AlignedClip`, :class:`NoFaceError`, and the template
(:data:`TEMPLATE`, :func:`template_pixels`). Models load on first use, not at import.
"""

from mer.faces.align import DEFAULT_MARGIN, DEFAULT_SIZE, AlignedClip, align_clip
from mer.faces.errors import NoFaceError
from mer.faces.template import FIT_POINTS, TEMPLATE, template_pixels

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SIZE",
    "FIT_POINTS",
    "TEMPLATE",
    "AlignedClip",
    "NoFaceError",
    "align_clip",
    "template_pixels",
]
