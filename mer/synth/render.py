"""Render clips: an AU displacement field driven by an intensity curve, head motion, light, noise.

Pure arrays in, arrays out (no I/O). Frame ``t`` of a clip samples the subject's neutral image at

    src(p) = p + m(p) * (A_t^-1 p - p) - c_t * D(p)

where ``D`` (H, W, 2) is the AU-combination field in pixels, ``c_t`` the intensity curve (peak 1
at the apex), ``A_t`` the head's rigid motion (jitter, drift, roll) and ``m`` the head mask (the
background does not move). The content at ``p`` thus moves by about ``+c_t D(p)``. Sampling is
bilinear (``torch.nn.functional.grid_sample``), then a gain/gradient illumination drift and
sensor noise are applied and the result is rounded to uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mer.synth.subjects import Subject


@dataclass(frozen=True)
class Motion:
    """Nuisance motion and imaging of one clip.

    Attributes:
        jitter_px: standard deviation of the per-frame head translation jitter, pixels.
        drift_px: (dx, dy) slow head drift over the whole clip, pixels.
        roll_deg: slow head roll over the whole clip, degrees.
        gain_drift: relative brightness change from the first to the last frame.
        gradient_drift: change of a left-to-right illumination gradient (relative, per frame width).
        noise_sigma: sensor noise standard deviation, grey levels (0-255).
    """

    jitter_px: float = 0.3
    drift_px: tuple[float, float] = (0.0, 0.0)
    roll_deg: float = 0.0
    gain_drift: float = 0.0
    gradient_drift: float = 0.0
    noise_sigma: float = 1.5


def intensity_curve(n_frames: int, apex: int, residual: float = 0.1, macro: bool = False
                    ) -> np.ndarray:
    """Expression intensity per frame: 0 at the first frame, 1 at ``apex``, ``residual`` at the end.

    Raised-cosine rise and fall (smooth, zero slope at onset, apex and offset). For a macro clip
    (CK+ style, neutral to apex) ``apex`` is the last frame.

    Args:
        n_frames: T, frames in the clip (onset..offset inclusive).
        apex: index of the apex frame in 0..T-1.
        residual: intensity left at the offset frame (real offsets are rarely fully neutral).
        macro: no fall after the apex.

    Returns:
        (T,) float64 in [0, 1].
    """
    t = np.arange(n_frames, dtype=np.float64)
    rise = np.where(t <= apex, 0.5 - 0.5 * np.cos(np.pi * t / max(apex, 1)), 1.0)
    if macro or apex >= n_frames - 1:
        return rise
    s = np.clip((t - apex) / (n_frames - 1 - apex), 0, 1)
    fall = residual + (1 - residual) * (0.5 + 0.5 * np.cos(np.pi * s))
    return np.where(t <= apex, rise, fall)


def head_motion(n_frames: int, motion: Motion, rng: np.random.Generator) -> np.ndarray:
    """Per-frame rigid head motion parameters.

    Returns:
        (T, 3) float64: translation (tx, ty) in pixels and roll in radians, relative to frame 0
        (which is not moved).
    """
    s = np.linspace(0.0, 1.0, n_frames)
    smooth = 0.5 - 0.5 * np.cos(np.pi * s)
    jitter = rng.normal(0.0, motion.jitter_px, size=(n_frames, 2))
    jitter[0] = 0.0
    tx = motion.drift_px[0] * smooth + jitter[:, 0]
    ty = motion.drift_px[1] * smooth + jitter[:, 1]
    roll = np.deg2rad(motion.roll_deg) * smooth + rng.normal(0.0, 0.0005, n_frames) * (s > 0)
    return np.stack([tx, ty, roll], axis=1)


def render_clip(
    subject: Subject,
    field: np.ndarray,
    curve: np.ndarray,
    motion: Motion,
    rng: np.random.Generator,
    extra: list[tuple[np.ndarray, np.ndarray]] | None = None,
    grey: bool = False,
    head: np.ndarray | None = None,
) -> np.ndarray:
    """Render one clip.

    Args:
        subject: the neutral face (H, W, 3) and its head mask.
        field: (H, W, 2) float32 expression displacement at the apex, pixels (dx, dy).
        curve: (T,) intensity per frame (1 = apex).
        motion: head motion, light drift and noise.
        rng: the clip's generator (jitter and noise are drawn from it).
        extra: further (field (H, W, 2), curve (T,)) pairs added, e.g. a blink.
        grey: render one luminance channel (ITU-R 601) instead of RGB.
        head: (T, 3) rigid head motion per frame (tx, ty in pixels, roll in radians, relative
            to the neutral pose); default: drawn by :func:`head_motion` from ``motion``.

    Returns:
        (T, H, W, 3) uint8 RGB, or (T, H, W) uint8 when ``grey``.
    """
    n_frames = len(curve)
    height, width = subject.image.shape[:2]
    base = subject.image @ np.array([0.299, 0.587, 0.114], np.float32) if grey else subject.image
    base_t = torch.from_numpy(np.ascontiguousarray(np.atleast_3d(base).transpose(2, 0, 1)))[None]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = subject.head_mask
    mask_x, mask_y = mask * xs, mask * ys
    # rigid motion about the face centre, inverted: where frame-t pixel p was in frame 0; its
    # offset from p is (cos - 1) x - sin y + kx, sin x + (cos - 1) y + ky, weighted by the mask
    params = head_motion(n_frames, motion, rng) if head is None else np.asarray(head, np.float64)
    cx, cy = subject.landmarks[27:36].mean(axis=0)
    cos, sin = np.cos(-params[:, 2]), np.sin(-params[:, 2])
    px0, py0 = -cx - params[:, 0], -cy - params[:, 1]
    kx = cos * px0 - sin * py0 + cx
    ky = sin * px0 + cos * py0 + cy
    pairs = [(field, curve)] + list(extra or [])
    # normalised grid_sample coordinates: x_n = x * 2 / (W - 1) - 1
    norm = np.array([2.0 / (width - 1), 2.0 / (height - 1)], np.float32)
    identity = np.stack([xs * norm[0] - 1.0, ys * norm[1] - 1.0], axis=-1)
    fields = [(f * norm, c) for f, c in pairs]
    gradient = ((xs - width / 2) / width)[..., None]
    channels = 1 if grey else 3
    frames = np.empty((n_frames, height, width, channels), dtype=np.uint8)
    noise_scale = np.float32(motion.noise_sigma / np.sqrt(42.5))
    chunk = 8
    grid = np.empty((chunk, height, width, 2), dtype=np.float32)
    for start in range(0, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        for k, t in enumerate(range(start, stop)):
            g = grid[k]
            g[...] = identity
            g[..., 0] += (np.float32((cos[t] - 1) * norm[0]) * mask_x
                          - np.float32(sin[t] * norm[0]) * mask_y + np.float32(kx[t] * norm[0]) * mask)
            g[..., 1] += (np.float32(sin[t] * norm[1]) * mask_x
                          + np.float32((cos[t] - 1) * norm[1]) * mask_y + np.float32(ky[t] * norm[1]) * mask)
            for f, c in fields:
                if c[t] != 0.0:
                    g -= np.float32(c[t]) * f
        with torch.no_grad():
            out = torch.nn.functional.grid_sample(
                base_t.expand(stop - start, -1, -1, -1), torch.from_numpy(grid[: stop - start]),
                mode="bilinear", padding_mode="border", align_corners=True,
            ).permute(0, 2, 3, 1).numpy()
        for k, t in enumerate(range(start, stop)):
            progress = np.float32(t / max(n_frames - 1, 1))
            light = np.float32(1.0 + motion.gain_drift * progress) + np.float32(
                motion.gradient_drift * progress) * gradient
            # sensor noise: the sum of the two nibbles of a random byte (triangular, 0..30,
            # mean 15, variance 42.5), scaled to noise_sigma
            raw = np.frombuffer(rng.bytes(height * width * channels), np.uint8)
            noise = ((raw & 15) + (raw >> 4)).reshape(height, width, channels).astype(np.float32)
            value = out[k] * light
            value += (noise - np.float32(15.0)) * noise_scale
            np.rint(value, out=value)
            np.clip(value, 0, 255, out=value)
            frames[t] = value.astype(np.uint8)
    return frames[..., 0] if grey else frames
