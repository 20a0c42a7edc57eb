"""The fused CPU kernels against the eager torch solver (the reference), and the backend choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data, transform

from mer.flow import TVL1Params, tvl1_flow
from mer.flow import _fused
from mer.flow._ops import median_filter
from mer.flow.tvl1 import choose_backend

SIZE = 80
QUICK = TVL1Params(warps=3, inner_iterations=15, outer_iterations=2)


def _pair(name: str, amplitude: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """frame0, frame1 (SIZE x SIZE in [0, 1]) and the smooth flow with frame0(p) = frame1(p + flow)."""
    img = getattr(data, name)()
    img = (img @ np.array([0.299, 0.587, 0.114]) if img.ndim == 3 else img).astype(np.float64)
    frame1 = transform.resize(img / img.max(), (SIZE, SIZE), anti_aliasing=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    ph = rng.uniform(0, 2 * np.pi, 2)
    flow = amplitude * np.stack((np.sin(2 * np.pi * yy / SIZE + ph[0]), np.cos(2 * np.pi * xx / SIZE + ph[1])))
    frame0 = ndimage.map_coordinates(frame1, np.stack((yy + flow[1], xx + flow[0])), order=3, mode="reflect")
    return np.clip(frame0, 0, 1).astype(np.float32), frame1.astype(np.float32), flow.astype(np.float32)


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    pairs = [_pair("astronaut", 0.3, 0), _pair("camera", 1.5, 1), _pair("coffee", 3.0, 2)]
    f0 = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
    f1 = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    return f0, f1, np.stack([p[2] for p in pairs])


def _epe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel end-point distance of (..., 2, H, W) flows over the interior (8 px margin)."""
    d = a[..., 8:-8, 8:-8] - b[..., 8:-8, 8:-8]
    return np.hypot(d[..., 0, :, :], d[..., 1, :, :])


def test_fused_matches_eager_at_opencv_defaults(batch) -> None:
    """Tolerance: mean distance between the two flows <= 0.01 px, 99th percentile <= 0.1 px, and
    the error against the true flow within 0.005 px (float32 rounding moves the convergence test
    by an iteration here and there, nothing more)."""
    f0, f1, truth = batch
    eager = tvl1_flow(f0, f1, backend="eager").numpy()
    fused = tvl1_flow(f0, f1, backend="fused").numpy()
    diff = _epe(fused, eager)
    assert diff.mean() <= 0.01, diff.mean()
    assert np.percentile(diff, 99) <= 0.1, np.percentile(diff, 99)
    assert abs(_epe(fused, truth).mean() - _epe(eager, truth).mean()) <= 0.005
    assert _epe(fused, truth).mean() < 0.5 * np.hypot(*truth.transpose(1, 0, 2, 3)).mean()


@pytest.mark.parametrize("median", [1, 3, 7])
def test_fused_matches_eager_other_settings(batch, median: int) -> None:
    f0, f1, _ = batch
    p = QUICK.replace(median_filtering=median, nscales=3)
    eager = tvl1_flow(f0[1:2], f1[1:2], p, backend="eager").numpy()
    fused = tvl1_flow(f0[1:2], f1[1:2], p, backend="fused").numpy()
    assert _epe(fused, eager).mean() <= 0.01


def test_fused_initial_flow_matches_eager(batch) -> None:
    f0, f1, truth = batch
    one_level = QUICK.replace(nscales=1)  # a 3 px flow is out of reach from zero on one level
    init = torch.from_numpy(truth[2:3])
    eager = tvl1_flow(f0[2:3], f1[2:3], one_level, initial_flow=init, backend="eager").numpy()
    fused = tvl1_flow(f0[2:3], f1[2:3], one_level, initial_flow=init, backend="fused").numpy()
    cold = tvl1_flow(f0[2:3], f1[2:3], one_level, backend="fused").numpy()
    assert _epe(fused, eager).mean() <= 0.01
    assert _epe(fused, truth[2:3]).mean() < 0.5 * _epe(cold, truth[2:3]).mean()


def test_fused_tiny_and_odd_sizes_run_and_match() -> None:
    rng = np.random.default_rng(3)
    base = ndimage.gaussian_filter(rng.random((40, 40)), 2.0)
    base = ((base - base.min()) / (base.max() - base.min())).astype(np.float32)
    for h, w in [(16, 16), (17, 23)]:
        f1 = torch.from_numpy(base[:h, :w].copy())
        f0 = torch.from_numpy(base[1 : h + 1, :w].copy())
        fused = tvl1_flow(f0, f1, QUICK, backend="fused")
        eager = tvl1_flow(f0, f1, QUICK, backend="eager")
        assert fused.shape == (2, h, w)
        assert torch.isfinite(fused).all()
        assert (fused - eager).abs().mean().item() <= 0.01


def test_fused_batch_equals_per_pair(batch) -> None:
    f0, f1, _ = batch
    together = tvl1_flow(f0, f1, QUICK, backend="fused")
    for k in range(f0.shape[0]):
        alone = tvl1_flow(f0[k : k + 1], f1[k : k + 1], QUICK, backend="fused")
        torch.testing.assert_close(together[k : k + 1], alone, atol=0, rtol=0)


@pytest.mark.parametrize("size", [3, 5, 7])
def test_median_programs_are_exact(size: int) -> None:
    u = np.random.default_rng(size).random((29, 41)).astype(np.float32)
    expected = median_filter(torch.from_numpy(u)[None, None], size)[0, 0].numpy()
    got = u.copy()
    _fused._median(got, size, *_fused._median_programs(size))
    np.testing.assert_array_equal(got, expected)


def test_cuda_tensors_take_the_eager_path() -> None:
    """The dispatcher every call goes through: frames on a GPU run the eager torch code."""
    cuda = torch.device("cuda")
    assert choose_backend("auto", cuda) == "eager"
    assert choose_backend("eager", cuda) == "eager"
    with pytest.raises(ValueError, match="runs on the CPU"):
        choose_backend("fused", cuda)


def test_auto_is_fused_on_the_cpu_whatever_the_cache(monkeypatch) -> None:
    """The choice never depends on timing or on numba's cache: a stage's bytes would."""
    cpu = torch.device("cpu")
    for state in ("cold", "cached", "loaded"):
        monkeypatch.setattr(_fused, "kernels_state", lambda state=state: state)
        assert choose_backend("auto", cpu) == "fused"
    assert choose_backend("eager", cpu) == "eager"
    with pytest.raises(ValueError, match="backend must be"):
        choose_backend("numba", cpu)


def test_kernels_state_after_a_call_is_loaded() -> None:
    a = torch.rand(16, 16)
    tvl1_flow(a, a, QUICK, backend="fused")
    assert _fused.kernels_state() == "loaded"


def test_fused_calls_from_several_threads_agree(batch) -> None:
    """Prefect tasks may call the solver from threads at once: the kernels share no state."""
    from concurrent.futures import ThreadPoolExecutor

    f0, f1, _ = batch
    alone = tvl1_flow(f0, f1, QUICK, backend="fused")
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: tvl1_flow(f0, f1, QUICK, backend="fused"), range(3)))
    for flow in results:
        torch.testing.assert_close(flow, alone, atol=0, rtol=0)
