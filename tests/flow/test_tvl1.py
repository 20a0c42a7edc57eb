"""TV-L1 flow: accuracy on known deformations, convention, shapes, dtypes, batching, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data, transform

from mer.flow import FAST, TVL1Params, tvl1_flow

SIZE = 96
QUICK = TVL1Params(warps=3, inner_iterations=15, outer_iterations=2)
#: for tests of shapes and plumbing, not accuracy
TINY = TVL1Params(nscales=2, warps=2, inner_iterations=10, outer_iterations=1)


def _grey(name: str) -> np.ndarray:
    img = getattr(data, name)()
    if img.ndim == 3:
        img = img @ np.array([0.299, 0.587, 0.114])
    img = img.astype(np.float64)
    img = img / img.max()
    if name == "astronaut":  # the face
        img = img[30:250, 140:360]
    return transform.resize(img, (SIZE, SIZE), anti_aliasing=True).astype(np.float32)


def _smooth_flow(amplitude: float, seed: int) -> np.ndarray:
    """(2, H, W) smooth deformation: a translation plus a sine field, max about ``amplitude``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    tx, ty = rng.uniform(-1, 1, 2)
    phase = rng.uniform(0, 2 * np.pi, 2)
    u = 0.5 * amplitude * (tx + np.sin(2 * np.pi * yy / SIZE + phase[0]))
    v = 0.5 * amplitude * (ty + np.cos(2 * np.pi * xx / SIZE + phase[1]))
    return np.stack((u, v)).astype(np.float32)


def _frame0_from(frame1: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """frame0(p) = frame1(p + flow(p)) (cubic, reflected border): the convention under test."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    coords = np.stack((yy + flow[1], xx + flow[0]))
    out = ndimage.map_coordinates(frame1.astype(np.float64), coords, order=3, mode="reflect")
    return np.clip(out, 0, 1).astype(np.float32)


def _epe(est: np.ndarray, truth: np.ndarray, margin: int = 8) -> float:
    err = np.hypot(est[0] - truth[0], est[1] - truth[1])
    return float(err[margin:-margin, margin:-margin].mean())


@pytest.fixture(scope="module")
def pairs() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for k, (name, amplitude) in enumerate([("astronaut", 0.2), ("camera", 1.0), ("astronaut", 3.0)]):
        frame1 = _grey(name)
        flow = _smooth_flow(amplitude, seed=k)
        out.append((_frame0_from(frame1, flow), frame1, flow))
    return out


def test_recovers_known_smooth_deformation(pairs) -> None:
    f0 = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
    f1 = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    est = tvl1_flow(f0, f1, QUICK).numpy()
    for k, (_, _, truth) in enumerate(pairs):
        epe = _epe(est[k], truth)
        magnitude = float(np.hypot(*truth).mean())
        assert epe < 0.1 + 0.1 * magnitude, (k, epe, magnitude)
        # and it is not zero flow: far better than predicting no motion
        assert epe < 0.5 * magnitude + 0.02, (k, epe, magnitude)


def test_convention_frame1_at_p_plus_flow_matches_frame0(pairs) -> None:
    f0, f1, truth = pairs[1]
    est = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), QUICK).numpy()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    warped = ndimage.map_coordinates(f1, np.stack((yy + est[1], xx + est[0])), order=3, mode="nearest")
    wrong_way = ndimage.map_coordinates(f1, np.stack((yy - est[1], xx - est[0])), order=3, mode="nearest")
    inner = (slice(8, -8), slice(8, -8))
    residual = np.abs(warped - f0)[inner].mean()
    assert residual < 0.3 * np.abs(f1 - f0)[inner].mean()
    assert residual < 0.3 * np.abs(wrong_way - f0)[inner].mean()
    assert _epe(est, truth) < 0.25


def test_pure_translation_in_known_direction() -> None:
    frame1 = _grey("camera")
    truth = np.zeros((2, SIZE, SIZE), np.float32)
    truth[0], truth[1] = 1.5, -0.7
    est = tvl1_flow(torch.from_numpy(_frame0_from(frame1, truth)), torch.from_numpy(frame1), QUICK)
    inner = est[:, 12:-12, 12:-12]
    assert inner[0].median().item() == pytest.approx(1.5, abs=0.1)
    assert inner[1].median().item() == pytest.approx(-0.7, abs=0.1)


def test_shapes_hw_and_batch(pairs) -> None:
    f0, f1, _ = pairs[0]
    single = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), TINY)
    batch = tvl1_flow(torch.from_numpy(f0)[None, None], torch.from_numpy(f1)[None, None], TINY)
    assert single.shape == (2, SIZE, SIZE)
    assert batch.shape == (1, 2, SIZE, SIZE)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single, batch[0])


def test_numpy_input_accepted(pairs) -> None:
    f0, f1, _ = pairs[0]
    a = tvl1_flow(f0, f1, TINY)
    b = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), TINY)
    torch.testing.assert_close(a, b)


def test_uint8_and_float_give_the_same_flow(pairs) -> None:
    f0, f1, _ = pairs[1]
    u0 = np.rint(f0 * 255).astype(np.uint8)
    u1 = np.rint(f1 * 255).astype(np.uint8)
    from_uint8 = tvl1_flow(torch.from_numpy(u0), torch.from_numpy(u1), TINY)
    from_float = tvl1_flow(torch.from_numpy(u0 / np.float32(255)), torch.from_numpy(u1 / np.float32(255)), TINY)
    torch.testing.assert_close(from_uint8, from_float, atol=1e-3, rtol=0)


def test_batch_equals_per_pair(pairs) -> None:
    f0 = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
    f1 = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    batched = tvl1_flow(f0, f1, TINY)
    for k in range(len(pairs)):
        alone = tvl1_flow(f0[k : k + 1], f1[k : k + 1], TINY)
        torch.testing.assert_close(batched[k : k + 1], alone, atol=1e-4, rtol=0)


def test_identical_frames_give_zero_flow() -> None:
    frame = torch.from_numpy(_grey("camera"))
    flow = tvl1_flow(frame, frame, QUICK)
    assert flow.abs().max().item() < 1e-4


def test_overrides_and_lambda_keyword(pairs) -> None:
    f0, f1, _ = pairs[1]
    a = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), TINY, lambda_=0.3)
    b = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), TINY.replace(lambda_=0.3))
    c = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), TINY)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_fast_preset_runs(pairs) -> None:
    f0, f1, truth = pairs[1]
    est = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), FAST).numpy()
    assert _epe(est, truth) < 0.3


def test_initial_flow_seeds_the_solver(pairs) -> None:
    """One level cannot reach a 6 px shift from zero; started at the truth it stays there."""
    frame1 = _grey("camera")
    truth = np.zeros((2, SIZE, SIZE), np.float32)
    truth[0], truth[1] = 6.0, -4.0
    f0, f1 = torch.from_numpy(_frame0_from(frame1, truth)), torch.from_numpy(frame1)
    one_level = QUICK.replace(nscales=1)
    cold = tvl1_flow(f0, f1, one_level).numpy()
    warm = tvl1_flow(f0, f1, one_level, initial_flow=torch.from_numpy(truth)).numpy()
    assert _epe(warm, truth, margin=12) < 0.2
    assert _epe(cold, truth, margin=12) > 1.0


def test_initial_flow_matches_opencv_use_initial_flow(pairs) -> None:
    cv2 = pytest.importorskip("cv2")
    f0, f1, truth = pairs[2]
    init = (0.5 * truth).astype(np.float32)
    solver = cv2.optflow.DualTVL1OpticalFlow_create()
    solver.setWarpingsNumber(QUICK.warps)
    solver.setInnerIterations(QUICK.inner_iterations)
    solver.setOuterIterations(QUICK.outer_iterations)
    solver.setUseInitialFlow(True)
    ref = solver.calc(f0, f1, np.ascontiguousarray(init.transpose(1, 2, 0)).copy()).transpose(2, 0, 1)
    ours = tvl1_flow(f0, f1, QUICK, initial_flow=torch.from_numpy(init)).numpy()
    assert float(np.hypot(*(ours - ref)).mean()) < 0.02


def test_initial_flow_bad_shape_raises(pairs) -> None:
    f0, f1, _ = pairs[0]
    with pytest.raises(ValueError, match="initial_flow must be"):
        tvl1_flow(f0, f1, TINY, initial_flow=torch.zeros(2, SIZE, SIZE + 1))
    with pytest.raises(ValueError, match="NaN or infinite"):
        tvl1_flow(f0, f1, TINY, initial_flow=torch.full((2, SIZE, SIZE), float("nan")))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(pairs) -> None:
    f0, f1, _ = pairs[1]
    cpu = tvl1_flow(torch.from_numpy(f0), torch.from_numpy(f1), QUICK, backend="eager")
    gpu = tvl1_flow(torch.from_numpy(f0).cuda(), torch.from_numpy(f1).cuda(), QUICK)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-2, rtol=0)


@pytest.mark.parametrize(
    ("f0", "f1", "match"),
    [
        (torch.zeros(32, 32), torch.zeros(32, 33), "same shape"),
        (torch.zeros(2, 1, 32, 32), torch.zeros(3, 1, 32, 32), "same shape"),
        (torch.zeros(15, 40), torch.zeros(15, 40), "at least 16x16"),
        (torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32), r"\(B, 1, H, W\)"),
        (torch.full((32, 32), float("nan")), torch.zeros(32, 32), "NaN or infinite"),
        (torch.zeros(32, 32), torch.full((32, 32), float("inf")), "NaN or infinite"),
        (torch.full((32, 32), 200.0), torch.zeros(32, 32), r"in \[0, 1\]"),
        (torch.zeros(32, 32, dtype=torch.int32), torch.zeros(32, 32, dtype=torch.int32), "dtype"),
    ],
)
def test_bad_input_raises(f0, f1, match) -> None:
    with pytest.raises(ValueError, match=match):
        tvl1_flow(f0, f1, QUICK)


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="scale_step"):
        tvl1_flow(torch.zeros(32, 32), torch.zeros(32, 32), scale_step=1.5)
    with pytest.raises(ValueError, match="no_such_param"):
        tvl1_flow(torch.zeros(32, 32), torch.zeros(32, 32), no_such_param=1)
