"""Apex spotting: which frame of an onset..offset clip is the apex.

Four spotters (:data:`SPOTTERS`), chosen by ``flow.apex_spotter``:

- ``max_difference``: the frame whose blurred grey levels differ most from the onset frame
  (:func:`motion_profile`). Head drift and illumination drift grow over a clip, so it tends to
  pick late frames.
- ``middle``: the middle frame of onset..offset (needs the offset: the clip's last frame).
- ``rigid_residual``: the frame with the most local facial motion against the onset after the
  head's rigid motion and the light change are removed and the eyes are masked
  (:func:`residual_profile`); when no frame stands out of the noise, the middle frame.
- ``rigid_fit`` (the default): the same head-motion-removed residual images, fitted as one
  spatial pattern that rises and falls over time (:func:`apex_posterior`); the apex is the
  median of the posterior over apex frames, so an unclear fit lands near the middle frame.
"""

from __future__ import annotations

import numpy as np
import torch

from mer.spotting.rigid import face_weights, prepare, residual_energy, rigid_residual

__all__ = ["DEFAULT_SPOTTER", "SPOTTERS", "apex_posterior", "motion_profile", "residual_profile",
           "rise_fall_curves", "spot_apex"]

#: The spotters :func:`spot_apex` knows.
SPOTTERS: tuple[str, ...] = ("max_difference", "middle", "rigid_residual", "rigid_fit")
#: The default: the best on the development corpora, seeds 1 and 2 (docs/spotting.md, README).
DEFAULT_SPOTTER = "rigid_fit"


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
    try:
        x = prepare(frames, max_side=max_side, blur_sigma=blur_sigma)
    except ValueError as error:
        raise ValueError(f"motion_profile: {error}") from None
    diff = (x - x[:1]).abs().mean(dim=(1, 2))
    return diff.double().numpy()


#: Blur of the shrunk frames before the rigid fit, pixels (sub-pixel warps then blur alike).
_BLUR = 2.0
#: The residual peak must stand this many times above the profile's median (both over its
#: minimum); a flatter profile (motion near the noise floor) falls back to the middle frame.
_MIN_PEAK_RATIO = 1.5


def residual_profile(frames: np.ndarray | torch.Tensor, margin: float = 0.2, max_side: int = 64
                     ) -> np.ndarray:
    """Local facial motion of every frame against frame 0, head motion and light removed.

    Frames are shrunk to ``max_side`` and blurred; each is brought onto frame 0 by its rigid
    motion and light change (:func:`mer.spotting.rigid.rigid_residual`), and its residual energy
    in the face, eyes masked, is smoothed over time with the kernel (1, 2, 1) / 4.

    Args:
        frames: (T, H, W) grey aligned face crops (as the faces stage makes them with
            ``margin``), uint8 or float in [0, 1].
        margin: the crop margin the faces were aligned with (places the face and eye masks).
        max_side: longest side the frames are shrunk to first, pixels.

    Returns:
        (T,) float64 scores; ``profile[0]`` is 0.
    """
    x = prepare(frames, max_side=max_side, blur_sigma=_BLUR)
    profile = np.zeros(x.shape[0])
    if x.shape[0] > 1:
        weights = face_weights(x.shape[1], x.shape[2], margin)
        energy = residual_energy(rigid_residual(x[0], x[1:], weights), weights)
        profile[1:] = energy
        if len(energy) > 2:
            profile[2:-1] = (energy[:-2] + 2 * energy[1:-1] + energy[2:]) / 4
    return profile


def _rigid_apex(frames: np.ndarray | torch.Tensor, margin: float) -> int:
    """Peak of :func:`residual_profile`, or the middle frame when the peak is not clear."""
    profile = residual_profile(frames, margin=margin)
    scores = profile[1:]
    apex = int(np.argmax(scores)) + 1
    floor = float(scores.min())
    if profile[apex] - floor < _MIN_PEAK_RATIO * (float(np.median(scores)) - floor):
        return max(1, len(profile) // 2)
    return apex


#: ``rigid_fit``: intensity left at the offset frame, as a share of the apex intensity.
_END_LEVEL = 0.1
#: ``rigid_fit``: the eyes are left out as ellipses of this many times their landmarks' extent
#: (wider than the rigid fit's mask: a blink moves the lids and the skin around them).
_FIT_EYE_EXTENT = 2.4
#: ``rigid_fit``: pixels of the shrunk, blurred residual per independent sample. Neighbouring
#: pixels share noise (blur, resampling), so the Gaussian log-likelihood summed over pixels is
#: divided by this; chosen on development seed 1 (30..1000 tried), confirmed on seed 2.
_PIXELS_PER_SAMPLE = 300.0


def rise_fall_curves(n_frames: int, end_level: float = _END_LEVEL) -> np.ndarray:
    """Expression intensity over a clip for every apex frame 1..T-1.

    Raised-cosine rise from 0 at frame 0 to 1 at the apex, raised-cosine fall to ``end_level``
    at the last frame (an apex on the last frame has no fall).

    Args:
        n_frames: T, frames in the clip (onset..offset), >= 2.
        end_level: intensity at the last frame.

    Returns:
        (T - 1, T) float64; row ``a - 1`` is the curve with its apex at frame ``a``.
    """
    t = np.arange(n_frames, dtype=np.float64)
    apex = np.arange(1, n_frames, dtype=np.float64)[:, None]
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / apex, 0.0, 1.0))
    span = np.maximum(n_frames - 1 - apex, 1.0)
    progress = np.clip((t - apex) / span, 0.0, 1.0)
    fall = end_level + (1 - end_level) * (0.5 + 0.5 * np.cos(np.pi * progress))
    return np.where(t <= apex, rise, fall)


def apex_posterior(frames: np.ndarray | torch.Tensor, margin: float = 0.2, max_side: int = 64
                   ) -> np.ndarray:
    """Posterior probability of every frame being the apex, from the rise-and-fall fit.

    Frames are shrunk to ``max_side``, blurred, and brought onto frame 0 by their rigid motion
    and light change (:func:`mer.spotting.rigid.rigid_residual`). The residual images inside the
    face (eyes left out) are modelled, pixel by pixel, as
    ``r_t = b + s t + c_a(t) D + noise``: a per-pixel baseline ``b`` and linear trend ``s``
    (what the rigid model leaves of slow drift) plus one spatial pattern ``D`` (the expression)
    whose intensity follows :func:`rise_fall_curves` with its apex at ``a``. For each ``a`` the
    least-squares fit explains the energy ``E_a``; with the noise variance ``sigma^2`` left by
    the best fit, ``log p(a) = E_a / (2 sigma^2 k) + const`` under a flat prior over ``a``
    (``k``: pixels per independent sample).

    Args:
        frames: (T, H, W) grey aligned face crops (T >= 4), uint8 or float in [0, 1].
        margin: the crop margin the faces were aligned with (places the face and eye masks).
        max_side: longest side the frames are shrunk to first, pixels.

    Returns:
        (T,) float64 probabilities summing to 1; frame 0 (the onset) has 0.

    Raises:
        ValueError: fewer than 4 frames, wrong shape, or non-finite values.
    """
    x = prepare(frames, max_side=max_side, blur_sigma=_BLUR)
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"apex_posterior: needs >= 4 frames, got {n}")
    weights = face_weights(x.shape[1], x.shape[2], margin)
    inside = face_weights(x.shape[1], x.shape[2], margin, eye_extent=_FIT_EYE_EXTENT) > 0.5
    residual = rigid_residual(x[0], x[1:], weights)[:, inside].double().numpy()
    data = np.concatenate((np.zeros((1, residual.shape[1])), residual))  # (T, P), r_0 = 0
    t = np.arange(n, dtype=np.float64) / (n - 1)
    basis, _ = np.linalg.qr(np.stack((np.ones(n), t), axis=1))  # baseline and trend
    data = data - basis @ (basis.T @ data)
    curves = rise_fall_curves(n)
    curves = curves - (curves @ basis) @ basis.T
    energy = ((curves @ data) ** 2).sum(axis=1) / (curves**2).sum(axis=1)  # (T - 1,)
    sigma2 = max(float((data**2).sum() - energy.max()) / (data.shape[1] * (n - 3)), 1e-12)
    log_p = (energy - energy.max()) / (2 * sigma2 * _PIXELS_PER_SAMPLE)
    posterior = np.zeros(n)
    posterior[1:] = np.exp(log_p) / np.exp(log_p).sum()
    return posterior


def _fit_apex(frames: np.ndarray | torch.Tensor, margin: float) -> int:
    """Median of :func:`apex_posterior` (the middle frame for clips under 4 frames)."""
    n = frames.shape[0]
    if n < 4:
        return max(1, n // 2)
    cumulative = np.cumsum(apex_posterior(frames, margin=margin))
    return int(min(np.searchsorted(cumulative, 0.5), n - 1))


def spot_apex(frames: np.ndarray | torch.Tensor, method: str = DEFAULT_SPOTTER, *,
              margin: float = 0.2) -> int:
    """Index of the apex among ``frames`` (frame 0 the onset, the last frame the offset).

    Pass ``frames[onset:offset + 1]`` and add the onset index to the result to get a clip index.
    Ties go to the earliest frame. A clip of one frame returns 0.

    Args:
        frames: (T, H, W) grey frames, uint8 or float in [0, 1].
        method: one of :data:`SPOTTERS`.
        margin: crop margin of aligned faces (``rigid_residual`` and ``rigid_fit``).

    Returns:
        The apex index in ``frames`` (0 <= index < T; >= 1 when T > 1).

    Raises:
        ValueError: an unknown method, wrong shape, an empty clip, or non-finite values.
    """
    if method not in SPOTTERS:
        raise ValueError(f"unknown apex spotter {method!r}; expected one of {', '.join(SPOTTERS)}")
    if method == "middle":
        if len(frames.shape) != 3 or frames.shape[0] == 0:
            raise ValueError(f"spot_apex: frames must be (T, H, W) grey, got shape {tuple(frames.shape)}")
        n = frames.shape[0]
        return max(1, n // 2) if n > 1 else 0
    if len(frames) == 1 or method == "max_difference":
        profile = motion_profile(frames)
        return 0 if profile.shape[0] == 1 else int(np.argmax(profile[1:])) + 1
    if method == "rigid_fit":
        return _fit_apex(frames, margin)
    return _rigid_apex(frames, margin)
