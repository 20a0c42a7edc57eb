"""One affine warp for every frame of a clip (kornia, batched)."""

from __future__ import annotations

import math

import numpy as np
import torch
from kornia.filters import gaussian_blur2d
from kornia.geometry.transform import warp_affine

from mer.faces.similarity import apply_affine, invert_affine

#: Frames are warped in one ``warp_affine`` call unless their float32 source region would exceed
#: this many bytes; longer clips go in consecutive batches with the same matrix (same result).
MAX_BATCH_BYTES = 512 * 2**20

PADDINGS = ("border", "zeros")


def antialias_sigma(matrix: np.ndarray) -> float:
    """Gaussian sigma (source px) that keeps a downscaling warp from aliasing; 0 when not shrinking.

    Same rule as ``skimage.transform.rescale(anti_aliasing=True)``: ``sigma = (1 / scale - 1) / 2``
    with ``scale = sqrt(|det A|)`` (the similarity's uniform scale).
    """
    scale = math.sqrt(abs(float(np.linalg.det(np.asarray(matrix, dtype=np.float64)[:, :2]))))
    return max(0.0, (1.0 / scale - 1.0) / 2.0) if scale > 0 else 0.0


def source_region(
    matrix: np.ndarray, size: int, height: int, width: int, pad: int = 0
) -> tuple[int, int, int, int]:
    """The part of a frame a ``size`` x ``size`` warp samples: ``x0, y0, x1, y1`` (end excluded).

    The output square's corners are mapped back to the source; one pixel (plus ``pad``, e.g. a blur
    radius) is added on each side for the bilinear neighbours, and the region is clipped to the
    frame (at least one pixel).
    """
    low, high = -0.5, size - 0.5
    corners = np.array([(low, low), (high, low), (low, high), (high, high)])
    src = apply_affine(invert_affine(matrix), corners)
    x0 = min(max(math.floor(src[:, 0].min()) - 1 - pad, 0), width - 1)
    y0 = min(max(math.floor(src[:, 1].min()) - 1 - pad, 0), height - 1)
    x1 = max(min(math.ceil(src[:, 0].max()) + 2 + pad, width), x0 + 1)
    y1 = max(min(math.ceil(src[:, 1].max()) + 2 + pad, height), y0 + 1)
    return x0, y0, x1, y1


def warp_clip(
    frames: np.ndarray,
    matrix: np.ndarray,
    size: int,
    *,
    device: str | torch.device = "cpu",
    padding: str = "border",
    antialias: bool = True,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> np.ndarray:
    """Warp every frame of a clip with the same affine matrix (bilinear).

    Only the source region the crop samples is converted to float and sent to ``device``; the
    matrix is shifted to match, so the result equals a warp of the whole frame. When the warp
    shrinks the face (scale < 1), the region is first blurred with a Gaussian
    (:func:`antialias_sigma`): bilinear sampling alone aliases fine texture (skin, wrinkles,
    JPEG blocks), which then changes with sub-pixel motion and shows up as spurious flow.

    Args:
        frames: (T, H, W, C) uint8 clip.
        matrix: (2, 3) affine matrix, source pixel -> output pixel (x, y); pixel centres at integers
            (OpenCV's convention, kornia's ``align_corners=True``).
        size: output side in pixels.
        device: where the warp runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``).
        padding: ``"border"`` (repeat the frame's edge pixels) or ``"zeros"``, for output pixels
            that fall outside the frame.
        antialias: blur before a shrinking warp (see above).
        max_batch_bytes: upper bound on the float32 source batch of one ``warp_affine`` call.

    Returns:
        (T, size, size, C) uint8, rounded to nearest.
    """
    if padding not in PADDINGS:
        raise ValueError(f"warp_clip: padding {padding!r}, expected one of {PADDINGS}")
    n_frames, height, width, channels = frames.shape
    sigma = antialias_sigma(matrix) if antialias else 0.0
    radius = math.ceil(3.0 * sigma) if sigma > 0.1 else 0
    x0, y0, x1, y1 = source_region(matrix, size, height, width, pad=radius)
    region = frames[:, y0:y1, x0:x1]
    shifted = np.asarray(matrix, dtype=np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], dtype=np.float64)

    device = torch.device(device)
    per_frame = (y1 - y0) * (x1 - x0) * channels * 4
    batch = max(1, min(n_frames, max_batch_bytes // per_frame))
    out = np.empty((n_frames, size, size, channels), dtype=np.uint8)
    m = torch.as_tensor(shifted, dtype=torch.float32, device=device)[None]
    with torch.inference_mode():
        for start in range(0, n_frames, batch):
            chunk = torch.from_numpy(np.ascontiguousarray(region[start : start + batch])).to(device)
            src = chunk.permute(0, 3, 1, 2).float()
            if radius:
                src = gaussian_blur2d(
                    src, (2 * radius + 1, 2 * radius + 1), (sigma, sigma), border_type="replicate"
                )
            warped = warp_affine(
                src,
                m.expand(len(src), 2, 3),
                (size, size),
                mode="bilinear",
                padding_mode=padding,
                align_corners=True,
            )
            out[start : start + len(src)] = (
                warped.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            )
    return out
