"""Clip flow features: onset-to-apex flow, given or spotted apex, batching, bad clips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage import data, transform

from mer.data.errors import DataError
from mer.flow import ClipInput, TVL1Params, clip_flow, clip_flows

QUICK = TVL1Params(warps=2, inner_iterations=10, outer_iterations=1)
SIZE = 64


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """(6, 64, 64, 3) uint8 RGB: the astronaut's face shifted right by 0..1.5 px and back."""
    face = transform.resize(data.astronaut()[30:250, 140:360], (SIZE, SIZE), anti_aliasing=True)
    shifts = [0.0, 0.5, 1.0, 1.5, 1.0, 0.5]
    frames = [ndimage.shift(face, (0, s, 0), order=3, mode="nearest") for s in shifts]
    return (np.clip(np.stack(frames), 0, 1) * 255).round().astype(np.uint8)


def test_clip_flow_with_given_apex(clip) -> None:
    out = clip_flow(clip, 0, 3, QUICK)
    assert (out.apex_index, out.onset_index, out.apex_estimated) == (3, 0, False)
    for field in (out.u, out.v, out.magnitude, out.strain):
        assert field.shape == (SIZE, SIZE) and field.dtype == np.float32
    inner = (slice(10, -10), slice(10, -10))
    # content moved right by 1.5 px: frame_apex(p + 1.5) = frame_onset(p)
    assert np.median(out.u[inner]) == pytest.approx(1.5, abs=0.2)
    assert abs(np.median(out.v[inner])) < 0.2
    np.testing.assert_allclose(out.magnitude, np.hypot(out.u, out.v), rtol=1e-5, atol=1e-6)


def test_clip_flow_spots_apex(clip) -> None:
    # The clip is a whole-image shift: the spotter that does not remove head motion finds it.
    (out,) = clip_flows([ClipInput(clip, 0, None, "a", "max_difference")], QUICK)
    assert out.apex_estimated and out.apex_index == 3
    (grey_out,) = clip_flows([ClipInput(clip[..., 0], 1, None, "a", "max_difference")], QUICK)
    assert grey_out.apex_index == 3  # grey input, onset 1


def test_batched_equals_single(clip) -> None:
    clips = [ClipInput(clip, 0, 3, "a"), ClipInput(clip, 0, 2, "b"), ClipInput(clip[:, :40, :48], 0, 3, "c")]
    many = clip_flows(clips, QUICK, batch_size=2)
    for c, m in zip(clips, many):
        one = clip_flow(c.frames, c.onset_index, c.apex_index, QUICK)
        np.testing.assert_allclose(m.u, one.u, atol=1e-4)
        np.testing.assert_allclose(m.strain, one.strain, atol=1e-4)
    assert many[2].u.shape == (40, 48)


@pytest.mark.parametrize(
    ("frames", "onset", "apex", "match"),
    [
        (np.zeros((4, 32, 32), np.float32), 0, 2, "uint8"),
        (np.zeros((4, 32, 32, 4), np.uint8), 0, 2, "RGB"),
        (np.zeros((4, 8, 32), np.uint8), 0, 2, "at least 16x16"),
        (np.zeros((4, 32, 32), np.uint8), 5, 2, "onset index 5"),
        (np.zeros((4, 32, 32), np.uint8), 0, 4, "apex index 4"),
        (np.zeros((4, 32, 32), np.uint8), 2, 1, "after the onset"),
        (np.zeros((4, 32, 32), np.uint8), 3, None, "no frame after the onset"),
    ],
)
def test_bad_clips_name_the_clip(frames, onset, apex, match) -> None:
    with pytest.raises(DataError, match=match) as info:
        clip_flow(frames, onset, apex, QUICK, clip_id="sub01/EP02_01f")
    assert str(info.value).startswith("sub01/EP02_01f: ")
