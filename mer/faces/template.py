"""The canonical face: a 68-point template in unit coordinates and its placement in a crop.

Points follow dlib's iBUG 300-W 68-point scheme (0-based): jaw 0-16, brows 17-26, nose bridge
27-30, nose base 31-35, eyes 36-41 (image-left eye) and 42-47 (image-right eye), mouth 48-67.
Coordinates are (x, y), x to the right, y down.

How :data:`TEMPLATE` was derived (once, offline; :func:`read_dlib_mean_shape` reproduces it and
``tests/faces/test_template.py`` checks the constants against the installed model):

1. Read ``initial_shape`` from dlib's ``shape_predictor_68_face_landmarks.dat`` (as shipped by
   ``face_recognition_models`` 0.3.0). It is the mean shape of the iBUG 300-W training faces that
   the regression-tree cascade starts from, in coordinates of the HOG detector's box (0..1).
2. Average it with its mirror image (x -> 1 - x, left and right points swapped by
   :data:`MIRROR`); the shape was already symmetric to 5e-5, and its eye line is horizontal.
3. Translate and scale uniformly so the 68 points' bounding box is centred on (0.5, 0.5) and its
   larger side (the width) spans 0..1. Rounded to 4 decimals.

The template was *not* fitted to the faces the tests use (astronaut, Grace Hopper).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Unit-square template, 68 x (x, y). See the module docstring for the derivation.
TEMPLATE = np.array(
    [
        (0.0000, 0.1873), (0.0034, 0.3196), (0.0175, 0.4513), (0.0450, 0.5805),
        (0.0965, 0.7005), (0.1756, 0.8046), (0.2724, 0.8914), (0.3792, 0.9611),
        (0.5000, 0.9819), (0.6208, 0.9611), (0.7276, 0.8914), (0.8244, 0.8046),
        (0.9035, 0.7005), (0.9550, 0.5805), (0.9825, 0.4513), (0.9966, 0.3196),
        (1.0000, 0.1873), (0.0953, 0.0906), (0.1573, 0.0348), (0.2448, 0.0181),
        (0.3354, 0.0311), (0.4202, 0.0663), (0.5798, 0.0663), (0.6646, 0.0311),
        (0.7552, 0.0181), (0.8427, 0.0348), (0.9047, 0.0906), (0.5000, 0.1699),
        (0.5000, 0.2551), (0.5000, 0.3396), (0.5000, 0.4265), (0.3985, 0.4853),
        (0.4473, 0.5032), (0.5000, 0.5185), (0.5527, 0.5032), (0.6015, 0.4853),
        (0.1960, 0.1805), (0.2500, 0.1495), (0.3149, 0.1504), (0.3718, 0.1933),
        (0.3109, 0.2041), (0.2463, 0.2033), (0.6282, 0.1933), (0.6851, 0.1504),
        (0.7500, 0.1495), (0.8040, 0.1805), (0.7537, 0.2033), (0.6891, 0.2041),
        (0.3057, 0.6433), (0.3772, 0.6147), (0.4496, 0.5999), (0.5000, 0.6124),
        (0.5504, 0.5999), (0.6228, 0.6147), (0.6943, 0.6433), (0.6251, 0.7132),
        (0.5548, 0.7442), (0.5000, 0.7500), (0.4452, 0.7442), (0.3749, 0.7132),
        (0.3355, 0.6471), (0.4489, 0.6421), (0.5000, 0.6475), (0.5511, 0.6421),
        (0.6645, 0.6471), (0.5521, 0.6801), (0.5000, 0.6863), (0.4479, 0.6801),
    ],
    dtype=np.float64,
)
TEMPLATE.setflags(write=False)

#: Landmark index of each point's mirror image (left <-> right).
MIRROR = np.array(
    [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)

LEFT_EYE = np.arange(36, 42)  # image-left eye (the subject's right eye)
RIGHT_EYE = np.arange(42, 48)

#: Points the similarity is fitted on: both eye contours (12, whose means are the eye centres),
#: nose bridge and base (27-35, 9) and the two mouth corners (48, 54). They move least with
#: expression and head pose; jaw, brows and lips are left out (the jaw line shifts with yaw,
#: brows and lips are what a micro-expression moves).
FIT_POINTS = np.array([*range(36, 48), *range(27, 36), 48, 54])


def eye_centres(points: np.ndarray) -> np.ndarray:
    """Eye centres, the mean of each eye's 6 points.

    Args:
        points: (68, 2) landmarks (x, y).

    Returns:
        (2, 2): image-left eye, image-right eye; each (x, y).
    """
    return np.stack([points[LEFT_EYE].mean(axis=0), points[RIGHT_EYE].mean(axis=0)])


def template_pixels(size: int, margin: float) -> np.ndarray:
    """The template placed in a ``size`` x ``size`` crop.

    The template's unit square (its 68 points' bounding box) is centred in the crop and scaled so
    ``margin`` of its side is kept free on every side: the square spans ``size / (1 + 2 margin)``
    pixels. Pixel centres are at integer coordinates (OpenCV's and kornia's
    ``align_corners=True`` convention), so the crop's outer edges lie at -0.5 and ``size - 0.5``.

    Args:
        size: crop side in pixels.
        margin: fraction of the template's side kept around it on each side (>= 0).

    Returns:
        (68, 2) float64 template points in output pixels (x, y).
    """
    scale = size / (1.0 + 2.0 * margin)
    return (TEMPLATE - 0.5) * scale + size / 2.0 - 0.5


def read_dlib_mean_shape(path: str | Path) -> np.ndarray:
    """Read ``initial_shape`` (the mean shape) from a dlib ``shape_predictor`` model file.

    dlib serialises the predictor as: version (int), then ``initial_shape`` as a column matrix
    (rows and columns written negated), each float as mantissa and exponent (value =
    mantissa * 2**exponent). Integers are a header byte (low nibble: byte count, bit 7: sign)
    followed by that many little-endian bytes.

    Args:
        path: the ``.dat`` file.

    Returns:
        (N, 2) float64 mean shape in detector-box coordinates (x, y), N = 68 for the 68-point model.
    """
    with open(path, "rb") as handle:
        blob = handle.read(8192)
    pos = 0

    def read_int() -> int:
        nonlocal pos
        header = blob[pos]
        count = header & 0x0F
        value = int.from_bytes(blob[pos + 1 : pos + 1 + count], "little")
        pos += 1 + count
        return -value if header & 0x80 else value

    version = read_int()
    if version != 1:
        raise ValueError(f"{path}: dlib shape_predictor version {version}, expected 1")
    rows, cols = abs(read_int()), abs(read_int())
    values = []
    for _ in range(rows * cols):
        mantissa = read_int()
        exponent = read_int()
        values.append(mantissa * 2.0**exponent)
    return np.asarray(values, dtype=np.float64).reshape(-1, 2)


def unit_template_from_mean_shape(mean_shape: np.ndarray) -> np.ndarray:
    """Symmetrise a 68-point mean shape and normalise it to the unit square (steps 2-3 above)."""
    mirrored = mean_shape[MIRROR].copy()
    mirrored[:, 0] = 1.0 - mirrored[:, 0]
    shape = (mean_shape + mirrored) / 2.0
    low, high = shape.min(axis=0), shape.max(axis=0)
    return (shape - (low + high) / 2.0) / (high - low).max() + 0.5
