"""Align a clip: one face detection on its reference frame, one similarity, one warp for all."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mer.data.errors import DataError
from mer.faces.detect import DEFAULT_THRESHOLD, find_face, refine_landmarks
from mer.faces.errors import NoFaceError
from mer.faces.similarity import apply_affine, umeyama
from mer.faces.template import FIT_POINTS, eye_centres, template_pixels
from mer.faces.warp import MAX_BATCH_BYTES, warp_clip

logger = logging.getLogger(__name__)

DEFAULT_SIZE = 128
DEFAULT_MARGIN = 0.2


@dataclass(frozen=True)
class AlignedClip:
    """A clip cropped and aligned to the canonical face.

    Attributes:
        frames: (T, size, size, 3) uint8 RGB (greyscale input is repeated over the 3 channels).
        landmarks: (68, 2) float32 landmarks of the detection frame, in output pixels (x, y).
        matrix: (2, 3) float32 affine matrix, source pixel -> output pixel (x, y), pixel centres at
            integers; the same for every frame.
        detector: how the face was found: ``hog``, ``hog_upsample1``, ``hog_upsample2`` on the
            reference frame, or ``hog_frame<i>[_upsample<n>]`` on neighbouring frame ``i``.
        score: dlib's HOG score of the chosen box (0 is dlib's default threshold; higher is surer).
        inter_ocular: distance between the two eye centres (mean of each eye's 6 points), output px.
        residual: RMS distance between the fitted points (template.FIT_POINTS) and the template,
            output px.
        frame: index of the frame the landmarks come from.
        box: the detector box in source pixels (left, top, right, bottom, inclusive).
    """

    frames: np.ndarray
    landmarks: np.ndarray
    matrix: np.ndarray
    detector: str
    score: float
    inter_ocular: float
    residual: float
    frame: int
    box: tuple[int, int, int, int]


def as_clip(frames: np.ndarray | Sequence[np.ndarray], where: str) -> np.ndarray:
    """Check a clip and return it as (T, H, W, C) uint8 with C = 1 (greyscale) or 3 (RGB).

    Accepts an array (T, H, W), (T, H, W, 1) or (T, H, W, 3), or a sequence of per-frame arrays
    (H, W), (H, W, 1) or (H, W, 3) of one size.

    Raises:
        DataError: empty clip, frames of different sizes, wrong dimensions or channels, NaN, a
            dtype other than uint8.
    """
    if isinstance(frames, np.ndarray):
        clip = frames
    elif isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
        if len(frames) == 0:
            raise DataError(where, "empty clip: no frames")
        arrays = [np.asarray(f) for f in frames]
        for i, frame in enumerate(arrays):
            if frame.shape != arrays[0].shape:
                raise DataError(
                    where,
                    f"frame {i} has shape {frame.shape}, frame 0 {arrays[0].shape}: "
                    "all frames of a clip must have one size",
                )
        clip = np.stack(arrays)
    else:
        raise DataError(
            where, f"frames is a {type(frames).__name__}, expected a numpy array (T, H, W[, C])"
        )

    if clip.ndim == 3 and clip.shape[-1] in (3, 4) and clip.shape[1] > 4:
        raise DataError(
            where,
            f"shape {clip.shape} looks like one (H, W, C) image, not a clip; pass image[None]",
        )
    if clip.ndim == 3:
        clip = clip[..., None]
    if clip.ndim != 4:
        raise DataError(
            where, f"shape {clip.shape}, expected (T, H, W), (T, H, W, 1) or (T, H, W, 3)"
        )
    if clip.shape[0] == 0:
        raise DataError(where, "empty clip: no frames")
    if clip.shape[1] == 0 or clip.shape[2] == 0:
        raise DataError(where, f"shape {clip.shape}: frames have no pixels")
    if clip.shape[-1] not in (1, 3):
        raise DataError(
            where, f"{clip.shape[-1]} channels, expected 1 (greyscale) or 3 (RGB); drop alpha first"
        )
    if np.issubdtype(clip.dtype, np.floating) or np.issubdtype(clip.dtype, np.complexfloating):
        bad = np.isnan(clip).reshape(len(clip), -1).any(axis=1)
        if bad.any():
            first, count = int(np.argmax(bad)), int(bad.sum())
            raise DataError(where, f"frame {first} contains NaN ({count} frames do)")
    if clip.dtype != np.uint8:
        raise DataError(
            where, f"dtype {clip.dtype}, expected uint8 (0..255); convert before aligning"
        )
    return clip


def _check_params(
    size: int, margin: float, reference: int, refine: int, n_frames: int, where: str
) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"{where}: size {size!r}, expected an int >= 8")
    number = isinstance(margin, (int, float, np.floating)) and not isinstance(margin, bool)
    if not number or not math.isfinite(margin) or not 0 <= margin <= 2:
        raise ValueError(f"{where}: margin {margin!r}, expected a number in 0..2")
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)):
        raise ValueError(f"{where}: reference {reference!r}, expected an int")
    if not 0 <= reference < n_frames:
        raise ValueError(
            f"{where}: reference frame {reference} outside the clip's 0..{n_frames - 1}"
        )
    if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or refine < 0:
        raise ValueError(f"{where}: refine {refine!r}, expected an int >= 0")


def align_clip(
    frames: np.ndarray | Sequence[np.ndarray],
    *,
    size: int = DEFAULT_SIZE,
    margin: float = DEFAULT_MARGIN,
    reference: int = 0,
    clip: str | None = None,
    device: str | torch.device = "cpu",
    padding: str = "border",
    max_upsample: int = 2,
    max_offset: int = 3,
    threshold: float = DEFAULT_THRESHOLD,
    refine: int = 1,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> AlignedClip:
    """Crop and align every frame of a clip to the canonical face with one similarity transform.

    The face and its 68 landmarks are found once, on the reference frame (see
    :func:`mer.faces.detect.find_face` for the fallbacks: upsampling, then neighbouring frames;
    the largest confident box wins), and the landmarks are refined on the face brought upright
    (:func:`mer.faces.detect.refine_landmarks`). A similarity (rotation, uniform scale,
    translation) is fitted by least squares (Umeyama) from the landmarks listed in
    :data:`mer.faces.template.FIT_POINTS` (eyes, nose, mouth corners) to the template placed in a
    ``size`` x ``size`` crop with ``margin`` (:func:`mer.faces.template.template_pixels`). All
    frames are warped with that one matrix, so the crop does not jitter and motion between frames
    is kept.

    Args:
        frames: (T, H, W, 3) uint8 RGB, or greyscale (T, H, W) / (T, H, W, 1), or a sequence of
            frames of one size.
        size: output side in pixels.
        margin: fraction of the template's side kept free around it on each side; 0.2 keeps the
            brows about half an inter-ocular distance below the crop's top.
        reference: index of the frame the face is detected on (the onset by default).
        clip: name of the clip for error messages (e.g. ``sub01/EP02_01f``).
        device: where the warp runs (``"cpu"``, ``"cuda"``, a ``torch.device``).
        padding: ``"border"`` or ``"zeros"`` for crop pixels outside the frame.
        max_upsample: highest HOG upsampling level tried (0-2).
        max_offset: farthest neighbouring frame tried when the reference frame has no face.
        threshold: HOG detector threshold (dlib's ``adjust_threshold``).
        refine: passes of :func:`mer.faces.detect.refine_landmarks` (landmarks predicted again
            on the face brought upright and to a fixed size); 0 turns it off.
        max_batch_bytes: memory bound of one warp batch (see :func:`mer.faces.warp.warp_clip`).

    Returns:
        The aligned clip (see :class:`AlignedClip`).

    Raises:
        DataError: bad frames (empty, sizes differ, NaN, not uint8, wrong shape).
        NoFaceError: no face on the reference frame nor on its neighbours.
        ValueError: bad parameters.
    """
    where = clip if clip else "<clip>"
    data = as_clip(frames, where)
    n_frames, height, width, _ = data.shape
    _check_params(size, margin, reference, refine, n_frames, where)

    detection = find_face(
        data[..., 0] if data.shape[-1] == 1 else data,
        reference,
        max_upsample=max_upsample,
        max_offset=max_offset,
        threshold=threshold,
    )
    if detection is None:
        tried = min(n_frames, 2 * max_offset + 1)
        raise NoFaceError(
            where,
            f"no face found by dlib's HOG detector on frame {reference} nor on its neighbours "
            f"(up to {max_offset} away, about {tried} frames of {width}x{height}, upsampling up to "
            f"{max_upsample}); check the frames, or pass another reference frame",
        )
    if detection.frame != reference or detection.upsample:
        logger.debug("%s: face found by %s", where, detection.detector)

    source_landmarks = refine_landmarks(data[detection.frame], detection.landmarks, refine)
    template = template_pixels(int(size), float(margin))
    matrix = umeyama(source_landmarks[FIT_POINTS], template[FIT_POINTS])
    landmarks = apply_affine(matrix, source_landmarks)
    errors = landmarks[FIT_POINTS] - template[FIT_POINTS]
    residual = float(np.sqrt((errors**2).sum(axis=1).mean()))
    eyes = eye_centres(landmarks)

    warped = warp_clip(
        data, matrix, int(size), device=device, padding=padding, max_batch_bytes=max_batch_bytes
    )
    if warped.shape[-1] == 1:
        warped = np.repeat(warped, 3, axis=-1)

    result = AlignedClip(
        frames=warped,
        landmarks=landmarks.astype(np.float32),
        matrix=matrix.astype(np.float32),
        detector=detection.detector,
        score=detection.box.score,
        inter_ocular=float(np.linalg.norm(eyes[1] - eyes[0])),
        residual=residual,
        frame=detection.frame,
        box=(detection.box.left, detection.box.top, detection.box.right, detection.box.bottom),
    )
    for array in (result.frames, result.landmarks, result.matrix):
        array.setflags(write=False)
    return result
