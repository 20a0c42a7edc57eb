"""Per-clip flow features: onset-to-apex TV-L1 flow, its magnitude and optical strain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mer.data.errors import DataError
from mer.flow.params import TVL1Params
from mer.flow.strain import optical_strain
from mer.flow.tvl1 import MIN_SIZE, tvl1_flow
from mer.spotting.apex import DEFAULT_SPOTTER, spot_apex

__all__ = ["ClipFlow", "ClipInput", "clip_flow", "clip_flows", "to_grey"]

#: ITU-R BT.601 luma weights, as ``cv2.cvtColor(..., COLOR_RGB2GRAY)``.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class ClipFlow:
    """Flow features of one clip, from its onset frame to its apex frame.

    Attributes:
        u: (H, W) float32 x displacement in pixels (``apex(p + (u, v)) ~ onset(p)``).
        v: (H, W) float32 y displacement in pixels.
        magnitude: (H, W) float32 ``sqrt(u^2 + v^2)``.
        strain: (H, W) float32 optical strain (see :func:`mer.flow.strain.optical_strain`).
        onset_index: index of the onset frame in the clip's frames.
        apex_index: index of the apex frame used.
        apex_estimated: True when the apex was spotted (:func:`mer.spotting.spot_apex`), False
            when it was given.
    """

    u: np.ndarray
    v: np.ndarray
    magnitude: np.ndarray
    strain: np.ndarray
    onset_index: int
    apex_index: int
    apex_estimated: bool


@dataclass(frozen=True)
class ClipInput:
    """One clip for :func:`clip_flows`: its frames, onset, apex (None = spot it with
    ``apex_spotter``, see :data:`mer.spotting.SPOTTERS`) and name."""

    frames: np.ndarray
    onset_index: int
    apex_index: int | None
    clip_id: str = "clip"
    apex_spotter: str = DEFAULT_SPOTTER


def to_grey(frames: np.ndarray, clip_id: str = "clip") -> np.ndarray:
    """(T, H, W, 3) RGB or (T, H, W) grey uint8 -> (T, H, W) uint8 grey (BT.601 luma, rounded)."""
    if not isinstance(frames, np.ndarray):
        raise DataError(clip_id, f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise DataError(clip_id, f"frames must be uint8, got {frames.dtype}")
    if frames.ndim == 4 and frames.shape[-1] == 3:
        grey = frames.astype(np.float32) @ _LUMA
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    if frames.ndim == 3:
        return frames
    raise DataError(clip_id, f"frames must be (T, H, W, 3) RGB or (T, H, W) grey, got shape {frames.shape}")


def _resolve(clip: ClipInput) -> tuple[np.ndarray, int, int, bool]:
    """Check one clip; return its grey frames, onset, apex and whether the apex was spotted."""
    grey = to_grey(clip.frames, clip.clip_id)
    t, h, w = grey.shape
    if h < MIN_SIZE or w < MIN_SIZE:
        raise DataError(clip.clip_id, f"frames are {h}x{w}; flow needs at least {MIN_SIZE}x{MIN_SIZE}")
    onset = clip.onset_index
    if not 0 <= onset < t:
        raise DataError(clip.clip_id, f"onset index {onset} is outside the clip's {t} frames")
    if clip.apex_index is None:
        if t - onset < 2:
            raise DataError(clip.clip_id, f"cannot spot an apex: no frame after the onset (index {onset} of {t})")
        apex = onset + spot_apex(grey[onset:], clip.apex_spotter)
        return grey, onset, apex, True
    apex = clip.apex_index
    if not 0 <= apex < t:
        raise DataError(clip.clip_id, f"apex index {apex} is outside the clip's {t} frames")
    if apex <= onset:
        raise DataError(clip.clip_id, f"apex index {apex} must come after the onset index {onset}")
    return grey, onset, apex, False


def clip_flows(
    clips: Sequence[ClipInput],
    params: TVL1Params | None = None,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> list[ClipFlow]:
    """Onset-to-apex flow features of many clips, with the flow batched over clips.

    Clips whose frames have the same size are solved together, ``batch_size`` pairs at a time;
    the result does not depend on the batching. Every clip is checked before any flow is computed,
    so a bad clip fails fast with a :class:`~mer.data.errors.DataError` naming it.

    Args:
        clips: the clips (frames uint8 (T, H, W, 3) RGB or (T, H, W) grey).
        params: TV-L1 parameters; default OpenCV's defaults.
        batch_size: pairs per call of :func:`mer.flow.tvl1_flow`.
        device: where the flow is computed ("cpu", "cuda", ...).

    Returns:
        One :class:`ClipFlow` per clip, in the order given.
    """
    if batch_size < 1:
        raise ValueError(f"clip_flows: batch_size must be >= 1, got {batch_size}")
    resolved = [_resolve(clip) for clip in clips]
    by_shape: dict[tuple[int, int], list[int]] = {}
    for index, (grey, _, _, _) in enumerate(resolved):
        by_shape.setdefault(grey.shape[1:], []).append(index)
    results: list[ClipFlow | None] = [None] * len(clips)
    for indices in by_shape.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            f0 = np.stack([resolved[i][0][resolved[i][1]] for i in chunk])[:, None]
            f1 = np.stack([resolved[i][0][resolved[i][2]] for i in chunk])[:, None]
            flow = tvl1_flow(torch.from_numpy(f0).to(device), torch.from_numpy(f1).to(device), params)
            strain = optical_strain(flow)
            magnitude = torch.linalg.vector_norm(flow, dim=1)
            flow_np = flow.cpu().numpy()
            strain_np = strain[:, 0].cpu().numpy()
            magnitude_np = magnitude.cpu().numpy()
            for k, i in enumerate(chunk):
                _, onset, apex, estimated = resolved[i]
                results[i] = ClipFlow(
                    u=flow_np[k, 0].copy(),
                    v=flow_np[k, 1].copy(),
                    magnitude=magnitude_np[k].copy(),
                    strain=strain_np[k].copy(),
                    onset_index=onset,
                    apex_index=apex,
                    apex_estimated=estimated,
                )
    return [r for r in results if r is not None]


def clip_flow(
    frames: np.ndarray,
    onset_index: int,
    apex_index: int | None,
    params: TVL1Params | None = None,
    *,
    clip_id: str = "clip",
    device: str | torch.device = "cpu",
) -> ClipFlow:
    """Onset-to-apex flow features of one clip (see :func:`clip_flows`).

    Args:
        frames: (T, H, W, 3) RGB or (T, H, W) grey uint8 frames of the clip.
        onset_index: index of the onset frame in ``frames``.
        apex_index: index of the apex frame, or None to spot it among the frames from the onset
            on (:func:`mer.spotting.spot_apex`).
        params: TV-L1 parameters; default OpenCV's defaults.
        clip_id: the clip's name, used in error messages.
        device: where the flow is computed.

    Raises:
        DataError: bad frames (dtype, shape, too small) or indices, naming ``clip_id``.
    """
    return clip_flows([ClipInput(frames, onset_index, apex_index, clip_id)], params, device=device)[0]
