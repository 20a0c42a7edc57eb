"""Apex spotting: the frame of a clip that differs most from its onset."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["motion_profile", "spot_apex"]


def motion_profile(frames: np.ndarray | torch.Tensor, blur_sigma: float = 1.0, max_side: int = 128) -> np.ndarray:
    """Mean absolute difference of every frame to frame 0 after a light blur.

    The frames are converted to float in [0, 1] (uint8 is divided by 255), shrunk by area
    averaging so the longer side is at most ``max_side`` pixels (cheap, and it suppresses sensor
    noise), blurred with a Gaussian of ``blur_sigma`` pixels (at the shrunk size; 0 = no blur),
    then compared with frame 0: ``profile[t] = mean |I_t - I_0|`` over pixels.

    Args:
        frames: (T, H, W) grey frames, uint8 or float in [0, 1].
        blur_sigma: standard deviation of the Gaussian blur, in pixels after shrinking.
        max_side: longest side after shrinking.

    Returns:
        (T,) float64 array; ``profile[0]`` is 0.

    Raises:
        ValueError: wrong shape, an empty clip, or non-finite values.
    """
    x = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if x.ndim != 3:
        raise ValueError(f"motion_profile: frames must be (T, H, W) grey, got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"motion_profile: empty clip, shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("motion_profile: frames have NaN or infinite values")
    x = x[:, None]
    h, w = x.shape[-2:]
    factor = max(h, w) / max_side
    if factor > 1:
        x = F.interpolate(x, size=(max(1, round(h / factor)), max(1, round(w / factor))), mode="area")
    if blur_sigma > 0:
        radius = max(1, int(round(3 * blur_sigma)))
        t = torch.arange(-radius, radius + 1, dtype=x.dtype)
        k = torch.exp(-0.5 * (t / blur_sigma) ** 2)
        k = k / k.sum()
        x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, 1, -1))
        x = F.conv2d(x, k.view(1, 1, -1, 1))
    diff = (x - x[:1]).abs().mean(dim=(1, 2, 3))
    return diff.double().numpy()


def spot_apex(frames: np.ndarray | torch.Tensor, blur_sigma: float = 1.0, max_side: int = 128) -> int:
    """Index of the apex: the frame with the largest :func:`motion_profile` against frame 0.

    Frame 0 is taken as the onset; pass ``frames[onset:offset + 1]`` and add the onset index to
    the result to get a clip index. Ties go to the earliest frame. A clip of one frame returns 0.

    Args:
        frames: (T, H, W) grey frames, uint8 or float in [0, 1].
        blur_sigma: see :func:`motion_profile`.
        max_side: see :func:`motion_profile`.

    Returns:
        The apex index in ``frames`` (0 <= index < T; >= 1 when T > 1).
    """
    profile = motion_profile(frames, blur_sigma=blur_sigma, max_side=max_side)
    if profile.shape[0] == 1:
        return 0
    return int(np.argmax(profile[1:])) + 1
