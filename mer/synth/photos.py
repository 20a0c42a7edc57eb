"""The two public-domain face photographs that ship inside installed packages, with landmarks.

``skimage.data.astronaut()`` (Eileen Collins, 512x512) and matplotlib's sample
``grace_hopper.jpg`` (Grace Hopper, 600x512). Each is used as is and mirrored (left-right).

The 68 landmarks of each photo were detected once with :func:`detect_landmarks` (dlib's HOG
detector, upsample 1, the most confident box, and the 68-point shape predictor of
``face_recognition_models``) and are committed in :data:`PHOTO_LANDMARKS`, so generating a corpus
needs no detector; ``tests/synth/test_photos.py`` re-detects them. A mirrored photo's landmarks
are the flipped points, renumbered with :data:`mer.synth.actions.MIRROR`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from mer.synth.actions import MIRROR

log = logging.getLogger(__name__)

#: Names of the source photos, in the order subjects cycle through them.
PHOTO_NAMES: tuple[str, ...] = ("astronaut", "grace_hopper")

#: 68 landmarks per photo, (x, y) pixels, flattened x0, y0, x1, y1, ... (dlib 20.0, see above).
PHOTO_LANDMARKS: dict[str, tuple[int, ...]] = {
    "astronaut": (
        179, 104, 180, 116, 181, 127, 182, 139, 185, 150, 191, 160, 200, 168, 209, 176, 220, 178,
        232, 177, 243, 171, 253, 163, 260, 154, 265, 143, 268, 131, 270, 120, 272, 108, 186, 94,
        192, 88, 200, 87, 208, 89, 216, 92, 236, 93, 244, 91, 252, 91, 260, 92, 265, 99, 226, 102,
        225, 111, 225, 119, 225, 127, 214, 131, 219, 133, 224, 134, 229, 133, 234, 132, 195, 101,
        200, 98, 207, 98, 212, 104, 206, 104, 199, 104, 237, 106, 243, 100, 250, 100, 255, 105,
        250, 107, 244, 107, 201, 139, 209, 139, 218, 139, 224, 141, 230, 140, 238, 140, 246, 141,
        238, 151, 229, 155, 222, 156, 216, 155, 208, 150, 204, 141, 218, 143, 223, 144, 230, 143,
        243, 142, 229, 150, 223, 151, 217, 150,
    ),
    "grace_hopper": (
        178, 203, 181, 226, 186, 248, 192, 270, 199, 291, 209, 310, 226, 323, 245, 331, 269, 333,
        293, 329, 312, 319, 329, 304, 340, 284, 347, 262, 351, 241, 353, 218, 355, 195, 189, 188,
        196, 172, 211, 165, 228, 165, 243, 171, 284, 168, 298, 161, 315, 161, 331, 167, 340, 181,
        265, 188, 265, 205, 266, 221, 267, 238, 247, 246, 257, 249, 268, 252, 278, 249, 287, 246,
        210, 195, 218, 187, 228, 187, 238, 194, 229, 195, 219, 196, 291, 192, 300, 184, 310, 184,
        319, 190, 311, 192, 301, 193, 233, 281, 245, 274, 258, 272, 267, 274, 277, 271, 288, 273,
        300, 277, 289, 284, 278, 287, 269, 289, 259, 288, 246, 285, 238, 279, 258, 278, 268, 279,
        277, 278, 296, 278, 277, 278, 268, 279, 258, 279,
    ),
}


@dataclass(frozen=True)
class SourcePhoto:
    """One source image and its landmarks.

    Attributes:
        name: ``astronaut`` or ``grace_hopper``, with ``_mirrored`` when flipped left-right.
        image: (H, W, 3) uint8 RGB.
        landmarks: (68, 2) float64, (x, y) in pixels, dlib 68-point order.
    """

    name: str
    image: np.ndarray
    landmarks: np.ndarray


def _load_rgb(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut()[..., :3])
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB")).copy()


def detect_landmarks(image: np.ndarray, upsample: int = 1) -> np.ndarray:
    """The 68 landmarks of the most confident face (dlib HOG + 68-point predictor).

    Args:
        image: (H, W, 3) uint8 RGB.
        upsample: times the detector upsamples the image (1 finds faces from about 40 px wide).

    Returns:
        (68, 2) float64, (x, y) in pixels.

    Raises:
        ValueError: no face was found.
    """
    detector, predictor = _dlib_models()
    boxes, scores, _ = detector.run(np.ascontiguousarray(image), upsample, 0)
    if len(boxes) == 0:
        raise ValueError("no face found by dlib's HOG detector")
    best = boxes[int(np.argmax(scores))]
    shape = predictor(np.ascontiguousarray(image), best)
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)


@functools.cache
def _dlib_models():  # type: ignore[no-untyped-def]
    import warnings

    import dlib

    with warnings.catch_warnings():  # face_recognition_models imports pkg_resources
        warnings.simplefilter("ignore")
        import face_recognition_models

    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()))


def load_photo(name: str) -> np.ndarray:
    """The photo ``name`` of :data:`PHOTO_NAMES` as (H, W, 3) uint8 RGB."""
    return _load_rgb(name)


@functools.cache
def source_photos() -> tuple[SourcePhoto, ...]:
    """The four source images: each photo of :data:`PHOTO_NAMES` as is, then mirrored.

    Returns:
        ``(astronaut, grace_hopper, astronaut_mirrored, grace_hopper_mirrored)``.
    """
    photos = []
    order = np.array([MIRROR[i] for i in range(68)])
    for mirrored in (False, True):
        for name in PHOTO_NAMES:
            image = _load_rgb(name)
            landmarks = np.asarray(PHOTO_LANDMARKS[name], dtype=np.float64).reshape(68, 2)
            if mirrored:
                image = np.ascontiguousarray(image[:, ::-1])
                landmarks = landmarks[order]
                landmarks[:, 0] = image.shape[1] - 1 - landmarks[:, 0]
            image.setflags(write=False)
            landmarks.setflags(write=False)
            photos.append(SourcePhoto(name + ("_mirrored" if mirrored else ""), image, landmarks))
    log.debug("source photos: %s", [p.name for p in photos])
    return tuple(photos)
