"""Head motion and light removed: residual facial motion between frames of an aligned face.

A frame ``I_t`` is brought onto a reference ``I_r`` by a rigid motion (translation and roll about
the crop centre) and a photometric change (gain, left-right gain gradient, offset), fitted by
weighted Gauss-Newton with Huber re-weighting, coarse to fine. What the rigid and photometric
model cannot explain is left in the residual: local, non-rigid facial motion (action units)
plus sensor noise. Eyes can be masked so blinks do not count.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mer.faces.template import LEFT_EYE, RIGHT_EYE, template_pixels

__all__ = ["face_weights", "prepare", "rigid_residual", "residual_energy"]

#: Gauss-Newton steps per pyramid level.
_STEPS = 4
#: Huber threshold on the residual, in units of its median absolute value.
_HUBER = 2.5


def prepare(frames: np.ndarray | torch.Tensor, max_side: int = 64, blur_sigma: float = 0.8
            ) -> torch.Tensor:
    """Grey frames as float32 in [0, 1], shrunk by area so the longer side is <= ``max_side``, blurred.

    Args:
        frames: (T, H, W) grey, uint8 or float in [0, 1].
        max_side: longest side after shrinking, pixels.
        blur_sigma: Gaussian blur after shrinking, pixels (0 = none).

    Returns:
        (T, h, w) float32 tensor.

    Raises:
        ValueError: wrong shape, an empty clip, or non-finite values.
    """
    x = frames if isinstance(frames, torch.Tensor) else torch.as_tensor(np.asarray(frames))
    if x.ndim != 3:
        raise ValueError(f"frames must be (T, H, W) grey, got shape {tuple(x.shape)}")
    if min(x.shape) == 0:
        raise ValueError(f"empty clip, shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("frames have NaN or infinite values")
    x = x[:, None]
    h, w = x.shape[-2:]
    factor = max(h, w) / max_side
    if factor > 1:
        x = F.interpolate(x, size=(max(1, round(h / factor)), max(1, round(w / factor))), mode="area")
    return _blur(x, blur_sigma)[:, 0]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, 1, H, W), replicate padding."""
    if sigma <= 0:
        return x
    radius = max(1, int(round(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.conv2d(F.conv2d(x, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))


def face_weights(height: int, width: int, margin: float = 0.2, mask_eyes: bool = True,
                 eye_extent: float = 1.6) -> torch.Tensor:
    """Where facial motion is measured in an aligned crop: the face's ellipse, eyes left out.

    The face is the template (:func:`mer.faces.template.template_pixels`) placed as the faces
    stage places it, scaled to ``height`` x ``width``. Each eye is left out as an ellipse of
    ``eye_extent`` times its landmarks' extent, so a blink does not count as an expression.

    Returns:
        (height, width) float32 tensor of 0/1.
    """
    points = template_pixels(max(height, width), margin)
    points = points * np.array([width, height]) / max(height, width)
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                            torch.arange(width, dtype=torch.float32), indexing="ij")
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, (high - low) / 2
    weights = (((xx - centre[0]) / half[0]) ** 2 + ((yy - centre[1]) / half[1]) ** 2 <= 1.0).float()
    if mask_eyes:
        for eye in (LEFT_EYE, RIGHT_EYE):
            e_low, e_high = points[eye].min(axis=0), points[eye].max(axis=0)
            e_centre, e_half = (e_low + e_high) / 2, np.maximum((e_high - e_low) * eye_extent / 2, 1.0)
            inside = ((xx - e_centre[0]) / e_half[0]) ** 2 + ((yy - e_centre[1]) / e_half[1]) ** 2 <= 1
            weights[inside] = 0.0
    return weights


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences of (N, H, W) along x and y (one-sided at the borders)."""
    gx = torch.empty_like(x)
    gy = torch.empty_like(x)
    gx[..., 1:-1] = (x[..., 2:] - x[..., :-2]) / 2
    gx[..., 0], gx[..., -1] = x[..., 1] - x[..., 0], x[..., -1] - x[..., -2]
    gy[..., 1:-1, :] = (x[..., 2:, :] - x[..., :-2, :]) / 2
    gy[..., 0, :], gy[..., -1, :] = x[..., 1, :] - x[..., 0, :], x[..., -1, :] - x[..., -2, :]
    return gx, gy


def _warp(frames: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Sample (N, H, W) frames at ``R(theta) (p - c) + c + (tx, ty)`` for each (tx, ty, theta)."""
    n, h, w = frames.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=frames.dtype), torch.arange(w, dtype=frames.dtype),
                            indexing="ij")
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = torch.cos(motion[:, 2]).view(n, 1, 1), torch.sin(motion[:, 2]).view(n, 1, 1)
    sx = cos * (xx - cx) - sin * (yy - cy) + cx + motion[:, 0].view(n, 1, 1)
    sy = sin * (xx - cx) + cos * (yy - cy) + cy + motion[:, 1].view(n, 1, 1)
    grid = torch.stack((sx * 2 / max(w - 1, 1) - 1, sy * 2 / max(h - 1, 1) - 1), dim=-1)
    return F.grid_sample(frames[:, None], grid, mode="bilinear", padding_mode="border",
                         align_corners=True)[:, 0]


def _fit_level(refs: torch.Tensor, frames: torch.Tensor, weights: torch.Tensor,
               motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Newton on one pyramid level; return the motion (N, 3) and the residual (N, H, W)."""
    n, h, w = frames.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=frames.dtype), torch.arange(w, dtype=frames.dtype),
                            indexing="ij")
    xc, yc = xx - (w - 1) / 2, yy - (h - 1) / 2
    photo = torch.stack((refs, refs * (xc / max(w, 1)), torch.ones_like(refs)), dim=1)  # (N, 3, H, W)
    gain = torch.zeros(n, 3, dtype=frames.dtype)
    for _ in range(_STEPS):
        warped = _warp(frames, motion)
        residual = warped - refs - torch.einsum("nk,nkhw->nhw", gain, photo)
        gx, gy = _gradients(warped)
        jac = torch.cat((torch.stack((gx, gy, gx * -yc + gy * xc), dim=1), -photo), dim=1)
        scale = residual.abs().flatten(1).median(dim=1).values.clamp_min(1e-4).view(n, 1, 1)
        robust = torch.clamp(_HUBER * scale / residual.abs().clamp_min(1e-12), max=1.0)
        wgt = (weights * robust).flatten(1)  # (N, P)
        jf = jac.flatten(2)  # (N, 6, P)
        normal = torch.einsum("nkp,np,nlp->nkl", jf, wgt, jf) + 1e-6 * torch.eye(6)
        rhs = -torch.einsum("nkp,np,np->nk", jf, wgt, residual.flatten(1))
        step = torch.linalg.solve(normal, rhs)
        motion = motion + step[:, :3]
        gain = gain + step[:, 3:]
    residual = _warp(frames, motion) - refs - torch.einsum("nk,nkhw->nhw", gain, photo)
    return motion, residual


def rigid_residual(reference: torch.Tensor, frames: torch.Tensor, weights: torch.Tensor,
                   levels: int = 2) -> torch.Tensor:
    """Residual of each frame after its head motion and light change to ``reference`` are removed.

    Args:
        reference: (H, W) or (N, H, W) float frames the others are brought onto.
        frames: (N, H, W) float frames.
        weights: (H, W) where the fit looks (see :func:`face_weights`).
        levels: pyramid levels (each halves the size), coarse to fine.

    Returns:
        (N, H, W) residual ``I_t(R p + t) - (1 + a + b x) I_r(p) - c``, grey units of the input.
    """
    n = frames.shape[0]
    refs = reference.expand(n, -1, -1) if reference.ndim == 2 else reference
    if refs.shape != frames.shape:
        raise ValueError(f"reference {tuple(reference.shape)} does not match frames {tuple(frames.shape)}")
    motion = torch.zeros(n, 3, dtype=frames.dtype)
    residual = frames - refs
    for level in range(levels - 1, -1, -1):
        factor = 2**level
        if factor > 1 and min(frames.shape[-2:]) // factor < 8:
            continue
        f = F.avg_pool2d(frames[:, None], factor)[:, 0] if factor > 1 else frames
        r = F.avg_pool2d(refs[:, None], factor)[:, 0] if factor > 1 else refs
        wgt = F.avg_pool2d(weights[None, None], factor)[0, 0] if factor > 1 else weights
        scaled = motion.clone()
        scaled[:, :2] = motion[:, :2] / factor
        motion, residual = _fit_level(r, f, wgt, scaled)
        motion[:, :2] = motion[:, :2] * factor
    return residual


def residual_energy(residual: torch.Tensor, weights: torch.Tensor, top: float = 0.1,
                    window: int = 5) -> np.ndarray:
    """How much local facial motion each residual holds.

    ``|residual|`` is averaged over ``window`` x ``window`` patches; the score of a frame is the
    mean of its ``top`` share of patches inside ``weights`` (an expression moves a small region,
    noise is everywhere).

    Args:
        residual: (N, H, W) residuals (:func:`rigid_residual`).
        weights: (H, W) 0/1 region.
        top: share of patches kept (0 < top <= 1).
        window: patch side, pixels.

    Returns:
        (N,) float64 scores (grey units of the input).
    """
    local = F.avg_pool2d(residual.abs()[:, None], window, stride=1, padding=window // 2,
                         count_include_pad=False)[:, 0]
    inside = weights > 0.5
    values = local[:, inside]
    k = max(1, int(round(top * values.shape[1])))
    return values.topk(k, dim=1).values.mean(dim=1).double().numpy()
