"""FACS action units as smooth displacement fields driven by the 68 facial landmarks.

Each action unit (AU) is a set of Gaussian radial-basis bumps centred on landmarks (or on blends of
landmarks): ``D(p) = sum_k w_k d_k exp(-|p - c_k|^2 / (2 sigma_k^2))``. Directions ``d_k`` are
given in the face frame (x from the image-left eye to the image-right eye, y pointing down the
face), so a rolled head moves its brows along its own "up". Fields are in pixels, (H, W, 2) with
channels (dx, dy) in image coordinates (x right, y down): content at ``p`` moves to ``p + D(p)``.

Landmarks follow the iBUG/dlib 68-point order as detected in the image: 0-16 jaw (image left to
right), 17-21 image-left brow, 22-26 image-right brow, 27-30 nose bridge, 31-35 nostrils,
36-41 image-left eye, 42-47 image-right eye, 48-59 outer lip, 60-67 inner lip. The image-left half
is the subject's right side, so a FACS ``R`` (right) AU acts on the image-left landmarks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np

#: (indices averaged to the bump centre, outward component, upward component, weight, sigma
#: as a fraction of the face width). Outward means away from the face midline.
_Bump = tuple[tuple[int, ...], float, float, float, float]


@dataclass(frozen=True)
class _AUSpec:
    right: tuple[_Bump, ...] = ()  # image-left half (subject's right)
    left: tuple[_Bump, ...] = ()  # image-right half (subject's left)
    middle: tuple[_Bump, ...] = ()  # on the midline; the outward component is ignored


def _pair(right: tuple[_Bump, ...], mirror: dict[int, int]
          ) -> tuple[tuple[_Bump, ...], tuple[_Bump, ...]]:
    left = tuple((tuple(mirror[i] for i in idx), o, u, w, s) for idx, o, u, w, s in right)
    return right, left


#: The 68-point left/right mirror permutation (image-left landmark -> image-right landmark).
MIRROR: Final[dict[int, int]] = {
    **{i: 16 - i for i in range(17)},
    **{17 + i: 26 - i for i in range(5)},
    **{27 + i: 27 + i for i in range(4)},
    **{31 + i: 35 - i for i in range(5)},
    36: 45, 37: 44, 38: 43, 39: 42, 40: 47, 41: 46,
    48: 54, 49: 53, 50: 52, 51: 51, 55: 59, 56: 58, 57: 57, 60: 64, 61: 63, 62: 62, 65: 67, 66: 66,
}
MIRROR.update({v: k for k, v in list(MIRROR.items())})


def _bilateral(*right: _Bump, middle: tuple[_Bump, ...] = ()) -> _AUSpec:
    on_right, on_left = _pair(right, MIRROR)
    return _AUSpec(right=on_right, left=on_left, middle=middle)


_BROW, _LID, _CHEEK, _MOUTH, _CHIN = 0.075, 0.04, 0.09, 0.055, 0.08

AU_SPECS: Final[dict[int, _AUSpec]] = {
    1: _bilateral(((21,), -0.15, 1.0, 1.0, _BROW), ((20,), 0.0, 1.0, 0.9, _BROW),
                  ((19,), 0.0, 0.6, 0.6, _BROW)),
    2: _bilateral(((17,), 0.1, 1.0, 1.0, _BROW), ((18,), 0.1, 1.0, 1.0, _BROW),
                  ((19,), 0.0, 0.6, 0.5, _BROW)),
    4: _bilateral(((21,), -0.6, -0.8, 1.0, _BROW), ((20,), -0.5, -0.8, 1.0, _BROW),
                  ((19,), -0.3, -0.7, 0.7, _BROW), ((18,), 0.0, -0.5, 0.4, _BROW)),
    5: _bilateral(((37,), 0.0, 1.0, 1.0, _LID), ((38,), 0.0, 1.0, 1.0, _LID)),
    6: _bilateral(((41, 2), 0.1, 1.0, 1.0, _CHEEK), ((40,), 0.0, 0.7, 0.5, _LID),
                  ((41,), 0.0, 0.7, 0.5, _LID)),
    7: _bilateral(((40,), 0.0, 1.0, 1.0, _LID), ((41,), 0.0, 1.0, 1.0, _LID),
                  ((37,), 0.0, -0.4, 0.4, _LID)),
    9: _bilateral(((31,), 0.2, 1.0, 1.0, _MOUTH), ((32,), 0.0, 0.8, 0.6, _MOUTH),
                  ((21,), 0.0, -0.4, 0.4, _BROW)),
    10: _bilateral(((49,), 0.0, 1.0, 0.9, _MOUTH), ((50,), 0.0, 1.0, 1.0, _MOUTH),
                   ((61,), 0.0, 0.8, 0.6, _MOUTH)),
    12: _bilateral(((48,), 0.75, 0.65, 1.0, _MOUTH), ((60,), 0.5, 0.5, 0.5, _MOUTH)),
    14: _bilateral(((48,), 0.9, 0.1, 1.0, 0.8 * _MOUTH), ((60,), 0.4, 0.0, 0.4, 0.8 * _MOUTH)),
    15: _bilateral(((48,), 0.1, -1.0, 1.0, _MOUTH), ((59,), 0.0, -0.5, 0.4, _MOUTH)),
    17: _AUSpec(middle=(((8,), 0.0, 1.0, 1.0, _CHIN), ((57,), 0.0, 0.8, 0.8, _MOUTH),
                        ((7, 9), 0.0, 0.8, 0.6, _CHIN))),
    20: _bilateral(((48,), 1.0, -0.3, 1.0, _MOUTH), ((4,), 0.3, 0.0, 0.3, _CHEEK)),
    24: _AUSpec(middle=(((62,), 0.0, -0.6, 1.0, _MOUTH), ((66,), 0.0, 0.6, 1.0, _MOUTH),
                        ((51,), 0.0, -0.4, 0.5, _MOUTH), ((57,), 0.0, 0.4, 0.5, _MOUTH))),
    25: _AUSpec(middle=(((66,), 0.0, -1.0, 1.0, _MOUTH), ((57,), 0.0, -0.9, 0.9, _MOUTH),
                        ((62,), 0.0, 0.3, 0.4, _MOUTH))),
    26: _AUSpec(middle=(((8,), 0.0, -1.0, 1.0, _CHIN), ((57,), 0.0, -0.9, 0.9, _MOUTH),
                        ((7, 9), 0.0, -0.9, 0.8, _CHIN), ((66,), 0.0, -0.6, 0.5, _MOUTH))),
    43: _bilateral(((37,), 0.0, -1.0, 1.0, _LID), ((38,), 0.0, -1.0, 1.0, _LID)),
}

#: The AUs that have a displacement field (others in a sheet's code are ignored).
SUPPORTED_AUS: Final[frozenset[int]] = frozenset(AU_SPECS)

_TOKEN = re.compile(r"^([LR]?)(\d+)$")


@dataclass(frozen=True)
class ActionUnit:
    """One coded action unit: the FACS number and its side (``""`` both, ``"L"``, ``"R"``)."""

    number: int
    side: str = ""

    def code(self) -> str:
        """The token as a sheet writes it, e.g. ``"L12"``."""
        return f"{self.side}{self.number}"


def parse_code(code: str) -> tuple[ActionUnit, ...]:
    """Parse a normalised code such as ``"4+L10"`` (see :func:`mer.synth.derive.normalise_au_code`).

    Raises:
        ValueError: a token is not ``[L|R]<number>`` or the AU has no field.
    """
    units = []
    for token in str(code).split("+"):
        match = _TOKEN.match(token.strip())
        if match is None or int(match.group(2)) not in SUPPORTED_AUS:
            raise ValueError(f"AU code {code!r}: token {token!r} is not a supported [L|R]<AU>")
        units.append(ActionUnit(int(match.group(2)), match.group(1)))
    return tuple(units)


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Face axes and size from 68 landmarks (x, y) in pixels.

    Returns:
        (ex, ey, width): unit vectors of the face's x (image-left eye to image-right eye) and y
        (down the face) axes, and the face width in pixels (jaw point 0 to 16).
    """
    eye_r = landmarks[36:42].mean(axis=0)
    eye_l = landmarks[42:48].mean(axis=0)
    ex = (eye_l - eye_r) / np.linalg.norm(eye_l - eye_r)
    ey = np.array([-ex[1], ex[0]])
    return ex, ey, float(np.linalg.norm(landmarks[16] - landmarks[0]))


def au_bumps(unit: ActionUnit, landmarks: np.ndarray, sigma_scale: float = 1.0) -> np.ndarray:
    """The RBF bumps of one action unit for a face.

    Args:
        unit: the AU and its side.
        landmarks: (68, 2) float, (x, y) in pixels.
        sigma_scale: multiplies every bump's width (a subject idiosyncrasy).

    Returns:
        (K, 5) float64 rows ``(cx, cy, dx, dy, sigma)`` in pixels; ``(dx, dy)`` has the bump's
        relative weight (at most 1) as its length.
    """
    spec = AU_SPECS[unit.number]
    ex, ey, width = face_frame(landmarks)
    rows = []
    halves = [(spec.middle, 0.0)]
    if unit.side in ("", "R"):
        halves.append((spec.right, -1.0))
    if unit.side in ("", "L"):
        halves.append((spec.left, 1.0))
    for bumps, outward_sign in halves:
        for indices, outward, upward, weight, sigma in bumps:
            centre = landmarks[list(indices)].mean(axis=0)
            direction = outward_sign * outward * ex - upward * ey
            direction = direction / max(float(np.linalg.norm(direction)), 1e-9) * weight
            rows.append((centre[0], centre[1], direction[0], direction[1],
                         sigma * width * sigma_scale))
    return np.asarray(rows, dtype=np.float64)


def bumps_field(bumps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Evaluate RBF bumps on the pixel grid.

    Args:
        bumps: (K, 5) rows ``(cx, cy, dx, dy, sigma)`` in pixels.
        shape: (H, W) of the frame.

    Returns:
        (H, W, 2) float32 displacement (dx, dy) in pixels.
    """
    height, width = shape
    ys = np.arange(height, dtype=np.float64)[:, None]
    xs = np.arange(width, dtype=np.float64)[None, :]
    field = np.zeros((height, width, 2), dtype=np.float64)
    for cx, cy, dx, dy, sigma in bumps:
        reach = int(np.ceil(4 * sigma))
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, height)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, width)
        if y0 >= y1 or x0 >= x1:
            continue
        g = (np.exp(-((ys[y0:y1] - cy) ** 2) / (2 * sigma**2))
             * np.exp(-((xs[:, x0:x1] - cx) ** 2) / (2 * sigma**2)))
        field[y0:y1, x0:x1, 0] += dx * g
        field[y0:y1, x0:x1, 1] += dy * g
    return field.astype(np.float32)


def combination_field(
    units: tuple[ActionUnit, ...],
    landmarks: np.ndarray,
    shape: tuple[int, int],
    weights: dict[int, float] | None = None,
    sigma_scale: float = 1.0,
) -> np.ndarray:
    """The displacement field of an AU combination, scaled to a peak of exactly 1 pixel.

    Args:
        units: the coded AUs.
        landmarks: (68, 2) float, (x, y) in pixels.
        shape: (H, W) of the frame.
        weights: relative strength per AU number (default 1), e.g. a subject's idiosyncrasy.
        sigma_scale: multiplies the bump widths.

    Returns:
        (H, W, 2) float32 field (dx, dy) in pixels whose largest vector length is 1.
    """
    weights = weights or {}
    bumps = [au_bumps(u, landmarks, sigma_scale) * np.array([1, 1, w, w, 1])
             for u in units for w in [weights.get(u.number, 1.0)]]
    field = bumps_field(np.concatenate(bumps), shape)
    peak = float(np.sqrt((field**2).sum(axis=-1)).max())
    if peak <= 0:
        raise ValueError(f"AUs {[u.code() for u in units]}: the field is zero (landmarks off the frame?)")
    return field / peak
