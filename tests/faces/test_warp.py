"""The batched kornia warp against OpenCV, its source-region crop, batching and anti-aliasing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mer.faces.warp import antialias_sigma, warp_clip


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (90, 110, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(base, (0, 0), 1.5)
    return np.stack([np.roll(smooth, t, axis=1) for t in range(4)])


# Matrices: inside the frame; and one whose crop hangs over the frame's top-left corner.
INSIDE = np.array([[1.1, 0.2, -20.0], [-0.2, 1.1, -10.0]])
OVERHANG = np.array([[0.9, -0.1, 15.0], [0.1, 0.9, 12.0]])


@pytest.mark.parametrize("matrix", [INSIDE, OVERHANG])
@pytest.mark.parametrize(
    ("padding", "border"), [("border", cv2.BORDER_REPLICATE), ("zeros", cv2.BORDER_CONSTANT)]
)
def test_matches_opencv_frame_by_frame(clip, matrix, padding, border):
    out = warp_clip(clip, matrix, 64, padding=padding, antialias=False)
    assert out.shape == (4, 64, 64, 3) and out.dtype == np.uint8
    for frame, warped in zip(clip, out, strict=True):
        expected = cv2.warpAffine(
            frame, matrix, (64, 64), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
        )
        assert np.abs(warped.astype(int) - expected).max() <= 1


def test_small_batches_give_the_same_result(clip):
    whole = warp_clip(clip, INSIDE, 48)
    one_by_one = warp_clip(clip, INSIDE, 48, max_batch_bytes=1)
    np.testing.assert_array_equal(whole, one_by_one)


def test_greyscale_single_channel(clip):
    grey = clip[..., :1]
    out = warp_clip(grey, INSIDE, 32)
    assert out.shape == (4, 32, 32, 1)
    np.testing.assert_array_equal(out[..., 0], warp_clip(clip, INSIDE, 32)[..., 0])


def test_antialias_removes_aliasing_when_shrinking():
    # vertical stripes with a 2 px period, shrunk 4x: bilinear alone keeps stripes, blurred does not
    stripes = np.zeros((1, 200, 200, 1), dtype=np.uint8)
    stripes[:, :, ::2] = 255
    shrink = np.array([[0.26, 0.0, 0.0], [0.0, 0.26, 0.0]])
    assert antialias_sigma(shrink) == pytest.approx((1 / 0.26 - 1) / 2)
    aliased = warp_clip(stripes, shrink, 40, antialias=False)[0, 5:-5, 5:-5, 0].astype(float)
    smooth = warp_clip(stripes, shrink, 40)[0, 5:-5, 5:-5, 0].astype(float)
    assert aliased.std() > 30
    assert smooth.std() < 5
    assert abs(smooth.mean() - 127.5) < 5
    assert antialias_sigma(np.eye(2, 3) * 2.0) == 0.0


def test_bad_padding():
    with pytest.raises(ValueError, match="padding"):
        warp_clip(np.zeros((1, 8, 8, 1), np.uint8), np.eye(2, 3), 8, padding="reflection")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(clip):
    np.testing.assert_allclose(
        warp_clip(clip, INSIDE, 48, device="cuda").astype(int),
        warp_clip(clip, INSIDE, 48).astype(int),
        atol=1,
    )
