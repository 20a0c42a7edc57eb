"""A clip as a sequence: sampled positions, small crops, and the flows to each sample (from the
onset or from the sample before), solved at the frames' size and resized."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mer.flow import TVL1Params, tvl1_flow
from mer.flow.sequence import clip_positions, sequence_crops, sequence_flows, sequence_positions

SIZE = 48
TINY = TVL1Params(nscales=3, warps=2, inner_iterations=10, outer_iterations=2)


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, np.ndarray]:
    """Six (SIZE, SIZE, 3) uint8 frames of a smooth texture translating by (0.8 t, -0.5 t) px:
    frame t(p) = base(p - s_t); and the shifts s_t ``(6, 2)`` (x, y)."""
    rng = np.random.default_rng(0)
    base = ndimage.gaussian_filter(rng.random((SIZE + 16, SIZE + 16)), 2.0)
    base = (base - base.min()) / (base.max() - base.min())
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 8
    shifts = np.array([(0.8 * t, -0.5 * t) for t in range(6)])
    frames = [ndimage.map_coordinates(base, np.stack((yy - sy, xx - sx)), order=3)
              for sx, sy in shifts]
    grey = np.clip(np.rint(255 * np.stack(frames)), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1), shifts


def test_positions_span_onset_to_offset_and_repeat_in_short_clips() -> None:
    assert sequence_positions(2, 16, 8) == [2, 4, 6, 8, 10, 12, 14, 16]
    assert sequence_positions(0, 3, 6) == [0, 1, 1, 2, 2, 3]  # fewer frames than K: repeats
    assert sequence_positions(5, 5, 3) == [5, 5, 5]


def test_apex_sampling_puts_the_apex_at_sample_k_over_2() -> None:
    assert sequence_positions(2, 30, 8, apex=10) == [2, 4, 6, 8, 10, 17, 23, 30]
    assert sequence_positions(0, 4, 9, apex=1) == [0, 0, 0, 1, 1, 2, 2, 3, 4]  # repeats
    assert sequence_positions(0, 6, 2, apex=3) == [0, 3]  # K = 2: the onset and the apex
    for k in range(2, 12):
        positions = sequence_positions(3, 40, k, apex=21)
        assert len(positions) == k and positions[k // 2] == 21
        assert positions == sorted(positions) and positions[0] == 3


def test_an_apex_outside_the_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="apex index 12 is outside the sequence"):
        sequence_positions(2, 10, 8, apex=12)


def test_clip_positions_follow_the_sampling_and_reach_a_late_apex() -> None:
    assert clip_positions(2, 10, 16, 8, "even") == sequence_positions(2, 16, 8)
    assert clip_positions(2, 10, 16, 8, "apex") == sequence_positions(2, 16, 8, apex=10)
    assert clip_positions(0, 12, 9, 3, "apex") == [0, 12, 12]  # apex after the offset
    assert clip_positions(4, 6, 3, 3, "even") == [4, 4, 4]  # offset before the onset


def test_crops_are_resized_rgb(clip) -> None:
    crops = sequence_crops(clip[0], [0, 2, 2, 5], 24)
    assert crops.shape == (4, 24, 24, 3) and crops.dtype == np.uint8
    assert np.array_equal(crops[1], crops[2])


@pytest.mark.parametrize("reference", ["onset", "previous"])
def test_flows_follow_the_motion_from_their_reference(clip, reference: str) -> None:
    frames, shifts = clip
    positions = [0, 2, 2, 5]
    (flows,) = sequence_flows([frames], [positions], TINY, batch_size=2, size=SIZE,
                              reference=reference)
    assert flows.shape == (3, 2, SIZE, SIZE) and flows.dtype == np.float32
    for j in range(3):
        start = positions[0] if reference == "onset" else positions[j]
        expected = shifts[positions[j + 1]] - shifts[start]  # frame b(p + w) = frame a(p)
        if not expected.any():
            assert not flows[j].any()  # a repeated frame: zero flow, not solved
            continue
        inner = flows[j, :, 8:-8, 8:-8]
        assert np.median(inner[0]) == pytest.approx(expected[0], abs=0.15)
        assert np.median(inner[1]) == pytest.approx(expected[1], abs=0.15)


def test_flows_are_solved_at_full_size_then_resized_in_the_small_pixels(clip) -> None:
    frames, _ = clip
    (full,) = sequence_flows([frames], [[0, 3]], TINY, batch_size=4, size=SIZE)
    (small,) = sequence_flows([frames], [[0, 3]], TINY, batch_size=4, size=SIZE // 2)
    pairwise = tvl1_flow(torch.from_numpy(frames[[0], ..., 0][:, None].copy()),
                         torch.from_numpy(frames[[3], ..., 0][:, None].copy()), TINY).numpy()
    np.testing.assert_allclose(full, pairwise, atol=1e-4)  # grey of a grey RGB: the same pair
    assert small.shape == (1, 2, SIZE // 2, SIZE // 2)
    assert np.median(small[0, 0]) == pytest.approx(np.median(full[0, 0]) / 2, abs=0.05)
