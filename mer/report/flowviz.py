"""Pictures of optical flow: the Middlebury colour wheel (Baker et al., IJCV 2011), in numpy.

Hue gives the direction a pixel moved, saturation its magnitude: white is still, a full colour
is a displacement of ``max_magnitude`` pixels or more (beyond it the colour is darkened).
Directions follow the image axes: ``u`` rightwards (x), ``v`` downwards (y), as
:mod:`mer.flow` writes them; rightwards is red, downwards yellow, leftwards cyan-blue,
upwards blue-violet.
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np
from PIL import Image

#: Colour-wheel segments (red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta,
#: magenta-red), in hue steps, as in the Middlebury flow code.
_SEGMENTS: Final[tuple[int, ...]] = (15, 6, 4, 11, 13, 6)


def colour_wheel() -> np.ndarray:
    """The Middlebury wheel: ``(55, 3)`` float64 RGB in [0, 255], hue by hue."""
    ry, yg, gc, cb, bm, mr = _SEGMENTS
    ramps = [
        np.stack([np.full(ry, 255.0), 255.0 * np.arange(ry) / ry, np.zeros(ry)], 1),
        np.stack([255.0 - 255.0 * np.arange(yg) / yg, np.full(yg, 255.0), np.zeros(yg)], 1),
        np.stack([np.zeros(gc), np.full(gc, 255.0), 255.0 * np.arange(gc) / gc], 1),
        np.stack([np.zeros(cb), 255.0 - 255.0 * np.arange(cb) / cb, np.full(cb, 255.0)], 1),
        np.stack([255.0 * np.arange(bm) / bm, np.zeros(bm), np.full(bm, 255.0)], 1),
        np.stack([np.full(mr, 255.0), np.zeros(mr), 255.0 - 255.0 * np.arange(mr) / mr], 1),
    ]
    return np.concatenate(ramps)


def flow_to_rgb(u: np.ndarray, v: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow field.

    Args:
        u: (H, W) x displacement in pixels (rightwards positive).
        v: (H, W) y displacement in pixels (downwards positive).
        max_magnitude: the magnitude shown at full saturation, pixels; default the field's
            largest finite magnitude (a still field is all white). Non-finite vectors are black.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.shape != v.shape or u.ndim != 2:
        raise ValueError(f"flow_to_rgb: u {u.shape} and v {v.shape} must be one (H, W) shape")
    finite = np.isfinite(u) & np.isfinite(v)
    u, v = np.where(finite, u, 0.0), np.where(finite, v, 0.0)
    magnitude = np.hypot(u, v)
    scale = float(max_magnitude) if max_magnitude is not None else float(magnitude.max())
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    wheel = colour_wheel()
    n = len(wheel)
    radius = magnitude / scale
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    position = (angle + 1.0) / 2.0 * (n - 1)
    k0 = np.floor(position).astype(np.int64)
    k1 = (k0 + 1) % n
    frac = (position - k0)[..., None]
    colour = ((1.0 - frac) * wheel[k0] + frac * wheel[k1]) / 255.0
    inside = (radius <= 1.0)[..., None]
    colour = np.where(inside, 1.0 - radius[..., None] * (1.0 - colour), colour * 0.75)
    colour = np.where(finite[..., None], colour, 0.0)
    return np.floor(255.0 * np.clip(colour, 0.0, 1.0)).astype(np.uint8)


def wheel_legend(size: int = 96) -> np.ndarray:
    """A disc showing the coding: (size, size, 3) uint8; outside the disc is white."""
    centre = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = (x - centre) / centre, (y - centre) / centre
    image = flow_to_rgb(u, v, max_magnitude=1.0)
    image[np.hypot(u, v) > 1.0] = 255
    return image


def grey_to_rgb(image: np.ndarray, signed: bool = False) -> np.ndarray:
    """Show a 2-D array: uint8 as is; float stretched from its minimum (``signed``: 0 is
    mid-grey) to its 99th percentile, which keeps a few extreme pixels from darkening the rest."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        grey = image
    else:
        values = np.where(np.isfinite(image), image.astype(np.float64), 0.0)
        if signed:
            top = float(np.percentile(np.abs(values), 99)) or 1.0
            grey = np.round(127.5 + 127.5 * values / top)
        else:
            low, high = float(values.min()), float(np.percentile(values, 99))
            grey = np.round(255.0 * (values - low) / ((high - low) or 1.0))
        grey = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode (H, W, 3) or (H, W) uint8 as PNG; the same pixels give the same bytes (no
    timestamp or software chunk)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", optimize=False,
                                                      compress_level=9)
    return buffer.getvalue()
