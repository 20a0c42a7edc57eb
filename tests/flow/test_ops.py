"""Low-level ops of the TV-L1 solver against direct references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mer.flow._ops import median_filter, remap_cubic, resize_linear


def _median_reference(x: torch.Tensor, size: int) -> torch.Tensor:
    b, c, h, w = x.shape
    r = size // 2
    p = F.pad(x.reshape(b * c, 1, h, w), (r, r, r, r), mode="replicate").squeeze(1)
    win = p.unfold(1, size, 1).unfold(2, size, 1).reshape(b, c, h, w, size * size)
    return win.median(dim=-1).values


@pytest.mark.parametrize("size", [3, 5, 7])
def test_median_network_is_exact(size: int) -> None:
    x = torch.randn(2, 2, 19, 23)
    x[0, 0, :5] = 0.5  # ties
    torch.testing.assert_close(median_filter(x, size), _median_reference(x, size), atol=0, rtol=0)


def test_remap_zero_flow_is_identity_and_integer_shift_is_exact() -> None:
    x = torch.rand(2, 3, 20, 24)
    assert torch.equal(remap_cubic(x, torch.zeros(2, 2, 20, 24)), x)
    flow = torch.zeros(2, 2, 20, 24)
    flow[:, 0] = 2.0  # sample two columns to the right
    out = remap_cubic(x, flow)
    assert torch.equal(out[..., :-2], x[..., 2:])
    assert torch.equal(out[..., -2:], torch.zeros_like(out[..., -2:]))  # outside reads 0


def test_resize_linear_keeps_constants_and_ramps() -> None:
    x = torch.full((1, 1, 30, 40), 3.0)
    assert torch.allclose(resize_linear(x, (24, 32), (1.25, 1.25)), torch.full((1, 1, 24, 32), 3.0))
    ramp = torch.arange(40, dtype=torch.float32).expand(1, 1, 30, 40)
    out = resize_linear(ramp, (30, 20), (1.0, 2.0))
    # output column d reads input position (d + 0.5) * 2 - 0.5
    expected = (torch.arange(20, dtype=torch.float32) + 0.5) * 2 - 0.5
    assert torch.allclose(out[0, 0, 0], expected)


def test_matches_opencv_building_blocks() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    img = rng.random((30, 37)).astype(np.float32)
    t = torch.from_numpy(img)[None, None]
    assert np.array_equal(median_filter(t, 5)[0, 0].numpy(), cv2.medianBlur(img, 5))
    flow = rng.uniform(-3, 3, (2, 30, 37)).astype(np.float32)
    yy, xx = np.mgrid[0:30, 0:37].astype(np.float32)
    ref = cv2.remap(img, xx + flow[0], yy + flow[1], cv2.INTER_CUBIC)
    ours = remap_cubic(t, torch.from_numpy(flow)[None])[0, 0].numpy()
    assert np.abs(ref - ours).max() < 1e-3
    ref = cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    ours = resize_linear(t, ref.shape, (1.25, 1.25))[0, 0].numpy()
    assert np.abs(ref - ours).max() < 1e-5


def test_remap_far_outside_reads_zero_and_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(1)
    img = rng.random((20, 26)).astype(np.float32)
    flow = rng.uniform(-40, 40, (2, 20, 26)).astype(np.float32)
    flow[:, :, :5] = rng.uniform(-4, 4, (2, 20, 5))  # some taps straddle the border
    yy, xx = np.mgrid[0:20, 0:26].astype(np.float32)
    ref = cv2.remap(img, xx + flow[0], yy + flow[1], cv2.INTER_CUBIC)
    ours = remap_cubic(torch.from_numpy(img)[None, None], torch.from_numpy(flow)[None])[0, 0].numpy()
    assert np.abs(ref - ours).max() < 1e-3
    outside = (np.abs(flow[0]) > 30) | (np.abs(flow[1]) > 30)
    assert outside.sum() > 50 and np.all(ours[outside & (np.abs(xx + flow[0] - 12) > 16)] == 0)

