"""Flow fields and frames as the images the public codebases read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mer.data.atomic import atomic_path

#: Side of STSTNet's and HTNet's flow images, px.
FLOW_IMAGE_SIZE = 28


def resize_area(field: np.ndarray, size: int) -> np.ndarray:
    """Resize an (H, W) float field to (size, size) by box (area) averaging.

    Box filtering averages every source pixel a target pixel covers, as ``cv2.INTER_AREA`` does
    when shrinking; values keep their units (a flow in source pixels stays in source pixels).
    """
    image = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32)


def minmax_uint8(field: np.ndarray) -> np.ndarray:
    """Stretch an (H, W) field to 0..255 uint8 by its own minimum and maximum.

    As ``cv2.normalize(field, None, 0, 255, cv2.NORM_MINMAX)`` then a cast, with values rounded;
    a constant field (no motion) maps to zeros. Non-finite values map to 0.
    """
    values = np.nan_to_num(np.asarray(field, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip(np.rint((values - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)


def flow_image(u: np.ndarray, v: np.ndarray, strain: np.ndarray,
               size: int = FLOW_IMAGE_SIZE) -> np.ndarray:
    """STSTNet's input: (size, size, 3) uint8 with channels (u, v, strain), each min-max stretched.

    Args:
        u: (H, W) horizontal flow, px (onset -> apex).
        v: (H, W) vertical flow, px.
        strain: (H, W) optical strain magnitude.
        size: output side, px.

    Returns:
        (size, size, 3) uint8; channel 0 is u, 1 is v, 2 is strain, each resized by area and
        stretched to 0..255 on its own.
    """
    return np.stack([minmax_uint8(resize_area(field, size)) for field in (u, v, strain)], axis=-1)


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write (H, W) grey or (H, W, 3) RGB uint8 pixels as a PNG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def write_cv2_png(path: Path, channels: np.ndarray) -> None:
    """Write (H, W, 3) uint8 so that ``cv2.imread(path)`` returns exactly ``channels``.

    OpenCV reads and writes colour images in B, G, R order, so channel 0 is stored as blue.
    """
    write_png(path, np.ascontiguousarray(channels[..., ::-1]))


def write_jpeg(path: Path, pixels: np.ndarray, quality: int = 95) -> None:
    """Write (H, W, 3) RGB uint8 pixels as a JPEG of the given quality, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="JPEG", quality=quality)
