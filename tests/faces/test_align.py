"""align_clip on real photos (skimage's astronaut, matplotlib's Grace Hopper) and on bad input."""

from __future__ import annotations

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.registration import phase_cross_correlation

from mer.data.errors import DataError
from mer.faces import AlignedClip, NoFaceError, align_clip, template_pixels
from mer.faces.similarity import apply_affine, invert_affine
from mer.faces.template import FIT_POINTS, eye_centres

SIZE = 128
MARGIN = 0.2


def _grace_hopper() -> np.ndarray:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {"astronaut": data.astronaut(), "grace_hopper": _grace_hopper()}


@pytest.fixture(scope="module")
def aligned(photos) -> dict[str, AlignedClip]:
    return {name: align_clip(image[None], clip=name) for name, image in photos.items()}


def _perturb(image: np.ndarray, centre: np.ndarray, rng: np.random.Generator):
    """A rotated (+-10 deg), scaled (0.85-1.2) and shifted (+-20 px) copy, edges repeated."""
    angle, scale = rng.uniform(-10, 10), rng.uniform(0.85, 1.2)
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    matrix[:, 2] += rng.uniform(-20, 20, 2)
    height, width = image.shape[:2]
    warped = cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return warped, matrix


def _compose(*matrices: np.ndarray) -> np.ndarray:
    """Affine (2, 3) matrices composed right to left, as (2, 3)."""
    full = np.eye(3)
    for m in matrices:
        full = full @ np.vstack([m, [0.0, 0.0, 1.0]])
    return full[:2]


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_alignment_is_invariant_to_rotation_scale_and_shift(photos, aligned, name):
    image, ref = photos[name], aligned[name]
    ref_eyes = eye_centres(ref.landmarks)
    to_source = invert_affine(ref.matrix)
    rng = np.random.default_rng(7)
    inner = slice(16, SIZE - 16)
    for _ in range(3):
        perturbed, known = _perturb(image, apply_affine(to_source, [[SIZE / 2, SIZE / 2]])[0], rng)
        out = align_clip(perturbed[None], clip=name)
        # the detected eyes land where they did without the perturbation
        assert np.linalg.norm(eye_centres(out.landmarks) - ref_eyes, axis=1).max() < 1.5
        # and so do the *true* eye positions, carried through the known perturbation
        true_eyes = apply_affine(_compose(out.matrix, known, to_source), ref_eyes)
        assert np.linalg.norm(true_eyes - ref_eyes, axis=1).max() < 1.5
        # the pixel crops agree (grey, inside a 16 px border)
        a = out.frames[0, inner, inner].mean(axis=-1).ravel()
        b = ref.frames[0, inner, inner].mean(axis=-1).ravel()
        assert np.corrcoef(a, b)[0, 1] > 0.95
        assert np.abs(a - b).mean() < 12


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_landmarks_land_on_the_template(aligned, name):
    result = aligned[name]
    template = template_pixels(SIZE, MARGIN)
    assert result.frames.shape == (1, SIZE, SIZE, 3) and result.frames.dtype == np.uint8
    assert result.landmarks.shape == (68, 2) and result.landmarks.dtype == np.float32
    assert result.matrix.shape == (2, 3) and result.matrix.dtype == np.float32
    assert result.detector == "hog" and result.score > 0.5 and result.frame == 0
    assert result.residual < 3.0
    assert np.linalg.norm(eye_centres(result.landmarks) - eye_centres(template), axis=1).max() < 2.0
    expected_iod = np.linalg.norm(np.subtract(*eye_centres(template)))
    assert result.inter_ocular == pytest.approx(expected_iod, abs=2.0)
    fitted = result.landmarks[FIT_POINTS] - template[FIT_POINTS]
    assert result.residual == pytest.approx(np.sqrt((fitted**2).sum(axis=1).mean()), rel=1e-4)


def test_size_and_margin_scale_the_crop(photos, aligned):
    small = align_clip(photos["astronaut"][None], size=64, margin=0.0)
    template = template_pixels(64, 0.0)
    assert small.frames.shape == (1, 64, 64, 3)
    assert np.linalg.norm(eye_centres(small.landmarks) - eye_centres(template), axis=1).max() < 1.5
    # margin 0 at 64 px is 64 / (128 / 1.4) = 0.7 times the default scale
    ratio = small.inter_ocular / aligned["astronaut"].inter_ocular
    assert ratio == pytest.approx(64 / (SIZE / (1 + 2 * MARGIN)), rel=0.02)


def test_identical_frames_give_identical_crops(photos):
    clip = np.repeat(photos["astronaut"][None], 5, axis=0)
    result = align_clip(clip)
    assert result.frames.shape == (5, SIZE, SIZE, 3)
    for frame in result.frames[1:]:
        np.testing.assert_array_equal(frame, result.frames[0])


def test_one_warp_keeps_the_motion_between_frames(photos):
    # frame t is the photo shifted by t * (1, -0.5) px: one matrix for all frames keeps that shift
    image = photos["astronaut"]
    shifts = np.array([(t * 1.0, t * -0.5) for t in range(4)])
    clip = np.stack(
        [
            cv2.warpAffine(
                image, np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]), image.shape[1::-1],
                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
            )
            for dx, dy in shifts
        ]
    )
    result = align_clip(clip)
    linear = result.matrix[:, :2].astype(np.float64)
    grey = result.frames.mean(axis=-1)
    for t in range(1, len(clip)):
        expected = linear @ shifts[t]  # the shift in output pixels (x, y)
        shift, _, _ = phase_cross_correlation(grey[t], grey[0], upsample_factor=20)
        measured = np.array([shift[1], shift[0]])  # (row, col) -> (x, y)
        np.testing.assert_allclose(measured, expected, atol=0.2)
        assert np.linalg.norm(expected) > 0.9 * t  # not re-aligned away by a per-frame detection


def test_reference_frame_is_used(photos):
    image = photos["astronaut"]
    blank = np.full_like(image, 128)
    result = align_clip(np.stack([blank, image, blank]), reference=1)
    assert result.frame == 1 and result.detector == "hog"


def test_falls_back_to_neighbouring_frames(photos):
    image = photos["astronaut"]
    blank = np.full_like(image, 128)
    result = align_clip(np.stack([blank, blank, image]), max_upsample=0)
    assert result.frame == 2 and result.detector == "hog_frame2"


def test_falls_back_to_upsampling_for_a_small_face(photos):
    # the 87 px face shrunk to about 43 px: HOG needs one upsampling (its window is 80 px)
    small = cv2.resize(photos["astronaut"], (256, 256), interpolation=cv2.INTER_AREA)[:160, 60:220]
    result = align_clip(small[None])
    assert result.detector == "hog_upsample1"
    assert result.residual < 3.0


def test_greyscale_clips(photos, aligned):
    grey = cv2.cvtColor(photos["grace_hopper"], cv2.COLOR_RGB2GRAY)
    for clip in (grey[None], grey[None, ..., None], [grey, grey]):
        result = align_clip(clip)
        assert result.frames.shape == (len(clip), SIZE, SIZE, 3)
        np.testing.assert_array_equal(result.frames[..., 0], result.frames[..., 1])
        np.testing.assert_array_equal(result.frames[..., 0], result.frames[..., 2])
        eyes = eye_centres(result.landmarks)
        colour_eyes = eye_centres(aligned["grace_hopper"].landmarks)
        assert np.linalg.norm(eyes - colour_eyes, axis=1).max() < 1.5


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((0, 64, 64, 3), np.uint8), "empty clip"),
        ([], "empty clip"),
        ([np.zeros((64, 64, 3), np.uint8), np.zeros((48, 64, 3), np.uint8)], "frame 1 has shape"),
        (np.full((2, 64, 64, 3), np.nan, np.float32), "frame 0 contains NaN"),
        (np.zeros((2, 64, 64, 3), np.float64), "dtype float64, expected uint8"),
        (np.zeros((2, 64, 64, 3), np.int16), "dtype int16, expected uint8"),
        (np.zeros((2, 64, 64, 4), np.uint8), "4 channels"),
        (np.zeros((64, 64, 3), np.uint8), "one \\(H, W, C\\) image"),
        (np.zeros((2, 2, 64, 64, 3), np.uint8), "expected \\(T, H, W\\)"),
        (np.zeros((2, 0, 64), np.uint8), "no pixels"),
        ("frames.npy", "expected a numpy array"),
    ],
)
def test_bad_frames_raise_data_errors_naming_the_clip(frames, message):
    with pytest.raises(DataError, match=message) as info:
        align_clip(frames, clip="sub01/EP02_01f")
    assert str(info.value).startswith("sub01/EP02_01f: ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 4}, "size"),
        ({"size": 64.0}, "size"),
        ({"margin": -0.1}, "margin"),
        ({"margin": float("nan")}, "margin"),
        ({"reference": 2}, "reference frame 2 outside"),
        ({"refine": -1}, "refine"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        align_clip(np.zeros((2, 32, 32), np.uint8), **kwargs)


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_no_face_raises_naming_the_clip(kind):
    rng = np.random.default_rng(0)
    frames = (
        np.full((3, 120, 160, 3), 90, np.uint8)
        if kind == "blank"
        else rng.integers(0, 256, (3, 120, 160, 3), dtype=np.uint8)
    )
    with pytest.raises(NoFaceError, match="no face found") as info:
        align_clip(frames, clip="s12/EP03_02")
    assert isinstance(info.value, DataError)
    assert str(info.value).startswith("s12/EP03_02: ")


def test_device_argument(photos, aligned):
    import torch

    result = align_clip(photos["astronaut"][None], device=torch.device("cpu"))
    np.testing.assert_array_equal(result.frames, aligned["astronaut"].frames)


def test_result_is_frozen(aligned):
    result = aligned["astronaut"]
    with pytest.raises(AttributeError):
        result.score = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.frames[0, 0, 0, 0] = 1
