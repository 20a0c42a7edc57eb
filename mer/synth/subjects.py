"""Synthetic identities made from the two source photographs.

How subjects differ (all drawn from a seeded generator per identity index):
- source: identity ``i`` uses photo ``i % 2`` (astronaut, Grace Hopper), mirrored when ``(i // 2)``
  is odd, so four base faces;
- face shape: a thin-plate-spline warp driven by moved landmarks: eye distance (+-9 %), eye size,
  brow height, nose length, mouth width and height, jaw width (+-12 %), face length, and a
  sideways shift of the inner features (a slight yaw);
- head pose and framing: roll (+-7 degrees), face width in the frame (115-135 px), position;
- colour: per-channel skin-tone gains, gamma, saturation and brightness;
- background: outside a soft head-and-neck mask the photo is replaced by a smooth two-colour
  gradient with low-frequency blotches;
- behaviour (used when clips are rendered): overall expressiveness, per-AU strength, RBF width
  and a habitual extra AU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.interpolate import RBFInterpolator

from mer.synth.actions import face_frame
from mer.synth.photos import SourcePhoto, source_photos

#: AUs a subject may add out of habit to some of its expressions.
HABIT_AUS: tuple[str, ...] = ("4", "7", "14", "17", "24", "L2", "R12")


@dataclass(frozen=True)
class Identity:
    """The parameters of one synthetic identity (all dimensionless unless stated).

    Attributes:
        index: identity number (0-based), the key that ``subjects.csv`` files refer to.
        photo: index into :func:`mer.synth.photos.source_photos` (0..3).
        shape: landmark-morph factors (see :func:`morph_landmarks`).
        roll_deg: head roll in degrees.
        face_width: jaw width in the frame, pixels.
        offset: (dx, dy) of the face centre from the frame centre, pixels.
        colour: (r gain, g gain, b gain, gamma, saturation, brightness).
        texture: (brow darkness gain, beard-shadow gain on the lower face, skin detail: -1
            smoothed .. +1 sharpened).
        background: (2, 3) RGB colours in [0, 255] of the background gradient, plus its angle
            in ``background_angle`` (radians).
        expressiveness: multiplies a subject's expression amplitudes.
        au_weights: relative strength per AU number.
        sigma_scale: width of the subject's AU bumps relative to the default.
        habit: an AU code the subject adds to some expressions, or ``""``.
        habit_rate: probability that a clip carries the habit.
    """

    index: int
    photo: int
    shape: dict[str, float]
    roll_deg: float
    face_width: float
    offset: tuple[float, float]
    colour: tuple[float, float, float, float, float, float]
    texture: tuple[float, float, float]
    background: tuple[tuple[float, float, float], tuple[float, float, float]]
    background_angle: float
    expressiveness: float
    au_weights: dict[int, float] = field(default_factory=dict)
    sigma_scale: float = 1.0
    habit: str = ""
    habit_rate: float = 0.0

    @property
    def name(self) -> str:
        """Identity id as written in the ``subjects.csv`` files, e.g. ``id07``."""
        return f"id{self.index:02d}"


#: Ranges (low, high) of the face-shape factors, as fractions of face width or height.
SHAPE_RANGES: dict[str, tuple[float, float]] = {
    "eye_distance": (-0.12, 0.12), "eye_size": (-0.12, 0.18), "brow_height": (-0.04, 0.06),
    "nose_length": (-0.07, 0.09), "mouth_width": (-0.15, 0.15), "mouth_height": (-0.04, 0.05),
    "jaw_width": (-0.15, 0.15), "face_length": (-0.06, 0.09), "yaw": (-0.05, 0.05),
}

# Shape sign patterns: 12 rows (identities of one photo, both mirrors) over the 9 shape factors,
# taken from a Sylvester-Hadamard matrix of order 16 (rows 6, 8, 15, 14, 0, 13, 12, 10, 3, 1,
# 4, 2; columns 6, 7, 14, 3, 15, 4, 10, 2, 11): any two rows differ in at least 4 of the 9 signs,
# so identities made from the same photo sit at far-apart corners of the shape space.
_H16 = np.array([[1]])
for _ in range(4):
    _H16 = np.block([[_H16, _H16], [_H16, -_H16]])
_SHAPE_CODE = _H16[np.ix_([6, 8, 15, 14, 0, 13, 12, 10, 3, 1, 4, 2],
                          [6, 7, 14, 3, 15, 4, 10, 2, 11])]


def make_identity(index: int, seed: int) -> Identity:
    """Draw identity ``index`` for ``seed`` (independent of how many identities are drawn)."""
    rng = np.random.default_rng([seed, 7919, index])
    u = rng.uniform
    slot = index // 2  # the identity's rank among those made from the same photo
    row = np.random.default_rng([seed, 31, index % 2]).permutation(len(_SHAPE_CODE))[slot % 12]
    signs = _SHAPE_CODE[row] * (-1) ** (slot // 12 % 2)
    shape = {}
    for (name, (low, high)), sign in zip(SHAPE_RANGES.items(), signs, strict=True):
        shape[name] = float((high if sign > 0 else low) * u(0.55, 1.0))
    tone = u(-1.0, 1.0)  # darker/redder .. lighter/paler
    colour = (1.0 + 0.10 * tone + u(-0.05, 0.05), 1.0 + 0.02 * tone + u(-0.05, 0.05),
              1.0 - 0.08 * tone + u(-0.06, 0.06), u(0.8, 1.25), u(0.55, 1.3), u(-18.0, 18.0))
    colours = rng.uniform(20, 235, size=(2, 3))
    texture = (float(u(0.55, 1.2)), float(u(0.6, 1.0)) if u() < 0.5 else 1.0,
               float(u(-1.0, 1.0)))
    return Identity(
        index=index,
        photo=(index % 2) + 2 * ((index // 2) % 2),
        shape=shape,
        roll_deg=float(u(-7, 7)),
        face_width=float(u(115, 135)),
        offset=(float(u(-10, 10)), float(u(-6, 8))),
        colour=tuple(float(c) for c in colour),  # type: ignore[arg-type]
        texture=texture,
        background=(tuple(map(float, colours[0])), tuple(map(float, colours[1]))),  # type: ignore[arg-type]
        background_angle=float(u(0, 2 * np.pi)),
        expressiveness=float(np.exp(rng.normal(0.0, 0.3))),
        au_weights={a: float(np.exp(rng.normal(0.0, 0.25))) for a in (1, 2, 4, 5, 6, 7, 9, 10, 12,
                                                                      14, 15, 17, 20, 24, 25, 26, 43)},
        sigma_scale=float(u(0.85, 1.2)),
        habit=str(rng.choice(HABIT_AUS)) if u() < 0.6 else "",
        habit_rate=float(u(0.15, 0.4)),
    )


def morph_landmarks(landmarks: np.ndarray, shape: dict[str, float]) -> np.ndarray:
    """Move the 68 landmarks to a new face shape.

    Args:
        landmarks: (68, 2) float, (x, y) in pixels.
        shape: fractions of the face width/height: ``eye_distance``, ``eye_size``,
            ``brow_height``, ``nose_length``, ``mouth_width``, ``mouth_height``, ``jaw_width``,
            ``face_length``, ``yaw``.

    Returns:
        (68, 2) float64, the moved landmarks in the same pixel frame.
    """
    ex, ey, width = face_frame(landmarks)
    centre = landmarks[27:36].mean(axis=0)
    height = float(np.dot(landmarks[8] - landmarks[19:25].mean(axis=0), ey))
    local = np.stack([(landmarks - centre) @ ex, (landmarks - centre) @ ey], axis=1)
    out = local.copy()
    s = shape
    # eyes and brows move apart or together; eyes grow or shrink about their centres
    for eye, brow in ((range(36, 42), range(17, 22)), (range(42, 48), range(22, 27))):
        eye, brow = list(eye), list(brow)
        shift = np.sign(local[eye, 0].mean()) * s["eye_distance"] * width / 2
        mid = local[eye].mean(axis=0)
        out[eye] = mid + (local[eye] - mid) * (1 + s["eye_size"])
        out[eye, 0] += shift
        out[brow, 0] += shift
        out[brow, 1] -= s["brow_height"] * height
    nose = list(range(31, 36)) + [30]
    out[nose, 1] += s["nose_length"] * height
    out[[28, 29], 1] += s["nose_length"] * height * np.array([0.33, 0.66])
    mouth = list(range(48, 68))
    mouth_mid = local[mouth].mean(axis=0)
    out[mouth, 0] = mouth_mid[0] + (local[mouth, 0] - mouth_mid[0]) * (1 + s["mouth_width"])
    out[mouth, 1] += (s["mouth_height"] + s["nose_length"] * 0.5) * height
    jaw_gain = np.array([0.5, 0.75] + [1.0] * 13 + [0.75, 0.5])
    out[:17, 0] = local[:17, 0] * (1 + s["jaw_width"] * jaw_gain)
    chin_gain = np.clip(1 - np.abs(np.arange(17) - 8) / 5, 0, 1)
    out[:17, 1] += s["face_length"] * height * chin_gain
    out[mouth, 1] += s["face_length"] * height * 0.4
    out[27:68, 0] += s["yaw"] * width
    return centre + out[:, :1] * ex + out[:, 1:] * ey


@dataclass(frozen=True)
class Subject:
    """A rendered identity: its neutral frame and landmarks at the corpus's frame size.

    Attributes:
        identity: the parameters it was made from.
        image: (H, W, 3) float32 RGB in [0, 255], the neutral face.
        landmarks: (68, 2) float64, (x, y) in pixels in ``image``.
        head_mask: (H, W) float32 in [0, 1]: 1 on the head and neck (which move), 0 on the
            static background.
    """

    identity: Identity
    image: np.ndarray
    landmarks: np.ndarray
    head_mask: np.ndarray

    @property
    def face_width(self) -> float:
        """Jaw width (landmark 0 to 16) in pixels."""
        return float(np.linalg.norm(self.landmarks[16] - self.landmarks[0]))


_STEP = 8  # pixels between evaluations of the identity warp's spline


def _similarity(landmarks: np.ndarray, identity: Identity, size: tuple[int, int]) -> np.ndarray:
    """2x3 matrix taking morphed photo pixels to frame pixels (scale, roll, placement)."""
    ex, _, width = face_frame(landmarks)
    scale = identity.face_width / width
    angle = np.deg2rad(identity.roll_deg) - np.arctan2(ex[1], ex[0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = landmarks[[27, 28, 29, 30, 33, 36, 39, 42, 45]].mean(axis=0)
    target = np.array([size[0] / 2 + identity.offset[0], size[1] * 0.5 + identity.offset[1]])
    return np.concatenate([rot, (target - rot @ centre)[:, None]], axis=1)


def _head_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Soft mask of head (an ellipse over face and skull) and neck in frame pixels, (H, W)."""
    ex, ey, width = face_frame(landmarks)
    brow = landmarks[17:27].mean(axis=0)
    chin = landmarks[8]
    face_h = float(np.dot(chin - brow, ey))
    top = brow - 0.95 * face_h * ey
    bottom = chin + 0.08 * face_h * ey
    centre = (top + bottom) / 2 + 0.5 * (landmarks[[0, 16]].mean(axis=0) - brow) @ ex * ex
    semi_y = float(np.linalg.norm(bottom - top)) / 2
    semi_x = 0.62 * width
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    rel_x = (xs - centre[0]) * ex[0] + (ys - centre[1]) * ex[1]
    rel_y = (xs - centre[0]) * ey[0] + (ys - centre[1]) * ey[1]
    radius = np.sqrt((rel_x / semi_x) ** 2 + (rel_y / semi_y) ** 2)
    head = 1.0 / (1.0 + np.exp((radius - 1.0) / 0.06))
    neck_y = (xs - chin[0]) * ey[0] + (ys - chin[1]) * ey[1]
    neck_x = np.abs((xs - chin[0]) * ex[0] + (ys - chin[1]) * ex[1])
    neck = 1.0 / (1.0 + np.exp((neck_x - 0.33 * width) / 3.0)) / (1.0 + np.exp(-neck_y / 4.0))
    return np.maximum(head, neck).astype(np.float32)


def _background(identity: Identity, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float64 background: a two-colour gradient with smooth blotches."""
    rng = np.random.default_rng([identity.index, 104729])
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    t = (np.cos(identity.background_angle) * xs / shape[1]
         + np.sin(identity.background_angle) * ys / shape[0])
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
    c0, c1 = (np.asarray(c) for c in identity.background)
    blotch = ndimage.zoom(rng.normal(0, 1, (6, 8)), (shape[0] / 6, shape[1] / 8), order=3)
    blotch = blotch[: shape[0], : shape[1]]
    return c0 * (1 - t[..., None]) + c1 * t[..., None] + 12.0 * blotch[..., None]


def _landmark_mask(points: np.ndarray, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) soft mask in [0, 1]: Gaussian blobs of ``sigma`` pixels on ``points`` (K, 2)."""
    ys = np.arange(shape[0], dtype=np.float64)[:, None]
    xs = np.arange(shape[1], dtype=np.float64)[None, :]
    mask = np.zeros(shape)
    for x, y in points:
        mask = np.maximum(mask, np.exp(-((ys - y) ** 2) / (2 * sigma**2))
                          * np.exp(-((xs - x) ** 2) / (2 * sigma**2)))
    return mask


def _texture(image: np.ndarray, landmarks: np.ndarray, texture: tuple[float, float, float]
             ) -> np.ndarray:
    """Brow darkness, a beard shadow and skin smoothing/sharpening; float RGB (H, W, 3)."""
    brow_gain, beard_gain, detail = texture
    shape = image.shape[:2]
    width = float(np.linalg.norm(landmarks[16] - landmarks[0]))
    brow = _landmark_mask(landmarks[17:27], 0.035 * width, shape)
    out = image * (1 + (brow_gain - 1) * brow)[..., None]
    if beard_gain < 1:
        lower = np.vstack([landmarks[3:14], landmarks[[31, 33, 35, 48, 54]],
                           (landmarks[33] + landmarks[51]) / 2, (landmarks[57] + landmarks[8]) / 2])
        beard = _landmark_mask(lower, 0.07 * width, shape)
        lips = _landmark_mask(landmarks[48:60], 0.03 * width, shape)
        out = out * (1 + (beard_gain - 1) * beard * (1 - lips))[..., None]
    blurred = ndimage.gaussian_filter(out, (1.2, 1.2, 0))
    return out + detail * 0.8 * (out - blurred) if detail > 0 else out + detail * (blurred - out)


def _colour(image: np.ndarray, colour: tuple[float, ...]) -> np.ndarray:
    """Skin-tone gains, gamma, saturation and brightness on a float RGB image in [0, 255]."""
    r, g, b, gamma, saturation, brightness = colour
    out = 255.0 * (np.clip(image, 0, 255) / 255.0) ** gamma
    out = out * np.array([r, g, b])
    grey = out @ np.array([0.299, 0.587, 0.114])
    out = grey[..., None] + saturation * (out - grey[..., None]) + brightness
    return out


def render_subject(identity: Identity, size: tuple[int, int]) -> Subject:
    """Render an identity's neutral frame.

    Args:
        identity: from :func:`make_identity`.
        size: frame (width, height) in pixels.

    Returns:
        The subject with its (H, W, 3) float32 image in [0, 255] and landmarks in frame pixels.
    """
    photo: SourcePhoto = source_photos()[identity.photo]
    src = photo.landmarks
    morphed = morph_landmarks(src, identity.shape)
    affine = _similarity(morphed, identity, size)
    frame_lm = morphed @ affine[:, :2].T + affine[:, 2]
    # thin-plate spline from morphed to source positions, pinned at the photo's border
    h0, w0 = photo.image.shape[:2]
    border = np.array([[x, y] for x in np.linspace(0, w0 - 1, 5) for y in np.linspace(0, h0 - 1, 5)
                       if x in (0, w0 - 1) or y in (0, h0 - 1)])
    tps = RBFInterpolator(np.vstack([morphed, border]), np.vstack([src, border]),
                          kernel="thin_plate_spline", smoothing=1.0)
    width, height = size
    inverse = np.linalg.inv(np.vstack([affine, [0, 0, 1]]))[:2]
    # the spline is smooth: evaluate it every _STEP pixels and interpolate the offsets between
    ys, xs = np.mgrid[0 : height + _STEP : _STEP, 0 : width + _STEP : _STEP].astype(np.float64)
    coarse = np.stack([xs.ravel(), ys.ravel()], axis=1) @ inverse[:, :2].T + inverse[:, 2]
    offset = (tps(coarse) - coarse).reshape(xs.shape + (2,))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    morphed_px = np.stack([xs.ravel(), ys.ravel()], axis=1) @ inverse[:, :2].T + inverse[:, 2]
    fine = [ys.ravel() / _STEP, xs.ravel() / _STEP]
    source_px = morphed_px + np.stack(
        [ndimage.map_coordinates(offset[..., c], fine, order=1) for c in range(2)], axis=1)
    scale = identity.face_width / np.linalg.norm(src[16] - src[0])
    blurred = photo.image.astype(np.float64)
    if scale < 1:
        blurred = ndimage.gaussian_filter(blurred, (0.5 / scale, 0.5 / scale, 0))
    coords = [source_px[:, 1].reshape(height, width), source_px[:, 0].reshape(height, width)]
    face = np.stack([ndimage.map_coordinates(blurred[..., c], coords, order=1, mode="nearest")
                     for c in range(3)], axis=-1)
    face = _texture(face, frame_lm, identity.texture)
    face = _colour(face, identity.colour)
    mask = _head_mask(frame_lm, (height, width))
    image = mask[..., None] * face + (1 - mask[..., None]) * _background(identity, (height, width))
    return Subject(identity, np.clip(image, 0, 255).astype(np.float32), frame_lm, mask)
