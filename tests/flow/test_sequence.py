"""Flow over a clip: consecutive and sampled pairs, batching, indices, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mer.flow import TVL1Params, tvl1_flow
from mer.flow.sequence import sample_indices, sequence_flow

SIZE = 48
TINY = TVL1Params(nscales=3, warps=2, inner_iterations=10, outer_iterations=2)


@pytest.fixture(scope="module")
def clip() -> tuple[torch.Tensor, np.ndarray]:
    """Six frames of a smooth texture translating by (0.5 t, -0.3 t) px: frame t(p) = base(p - s_t)."""
    rng = np.random.default_rng(0)
    base = ndimage.gaussian_filter(rng.random((SIZE + 16, SIZE + 16)), 2.0)
    base = (base - base.min()) / (base.max() - base.min())
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 8
    shifts = np.array([(0.5 * t, -0.3 * t) for t in range(6)])
    frames = [ndimage.map_coordinates(base, np.stack((yy - sy, xx - sx)), order=3) for sx, sy in shifts]
    return torch.tensor(np.clip(np.stack(frames), 0, 1), dtype=torch.float32), shifts


def test_sample_indices_spread_evenly_with_both_ends() -> None:
    assert sample_indices(10, 4) == [0, 3, 6, 9]
    assert sample_indices(5, 2) == [0, 4]
    assert sample_indices(3, 8) == [0, 1, 2]
    picked = sample_indices(101, 7)
    assert picked[0] == 0 and picked[-1] == 100 and len(set(picked)) == 7


@pytest.mark.parametrize(("n", "k", "match"), [(1, 2, "at least 2 frames"), (5, 1, "k must be >= 2")])
def test_sample_indices_bad_input(n: int, k: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_indices(n, k)


def test_consecutive_pairs_equal_pairwise_calls_and_follow_the_motion(clip) -> None:
    frames, shifts = clip
    flow = sequence_flow(frames, TINY, batch_size=2)
    assert flow.shape == (5, 2, SIZE, SIZE)
    pairwise = tvl1_flow(frames[:-1, None], frames[1:, None], TINY)
    torch.testing.assert_close(flow, pairwise, atol=1e-4, rtol=0)
    # frame t+1(p + w) = frame t(p): w = s_{t+1} - s_t = (0.5, -0.3)
    inner = flow[:, :, 8:-8, 8:-8]
    assert inner[:, 0].median().item() == pytest.approx(0.5, abs=0.1)
    assert inner[:, 1].median().item() == pytest.approx(-0.3, abs=0.1)


def test_sampled_frames_give_flow_between_the_samples(clip) -> None:
    frames, shifts = clip
    picked = sample_indices(6, 3)  # [0, 2, 5] after rounding 2.5 to even
    flow = sequence_flow(frames.numpy(), TINY, indices=picked)
    assert flow.shape == (2, 2, SIZE, SIZE)
    for j in range(2):
        expected = shifts[picked[j + 1]] - shifts[picked[j]]
        inner = flow[j, :, 8:-8, 8:-8]
        assert inner[0].median().item() == pytest.approx(expected[0], abs=0.15)
        assert inner[1].median().item() == pytest.approx(expected[1], abs=0.15)


@pytest.mark.parametrize(
    ("indices", "match"),
    [([0], "at least 2"), ([0, 2, 2], "strictly increasing"), ([3, 1], "strictly increasing"), ([0, 6], "outside")],
)
def test_bad_indices_raise(clip, indices: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sequence_flow(clip[0], TINY, indices=indices)


def test_bad_frames_and_batch_size_raise(clip) -> None:
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        sequence_flow(torch.zeros(4, 3, SIZE, SIZE), TINY)
    with pytest.raises(ValueError, match="batch_size"):
        sequence_flow(clip[0], TINY, batch_size=0)
