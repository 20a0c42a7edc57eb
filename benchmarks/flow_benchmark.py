"""Accuracy and speed of mer's TV-L1 against OpenCV's DualTVL1 and scikit-image's TV-L1.

Run: ``python benchmarks/flow_benchmark.py [--pairs 64] [--rounds 2] [--moto-draws 8]``. Prints one
markdown table, and a second small one for the paired (a2) comparison against OpenCV.

All three flows are compared in one convention: (u, v) = (x, y) in pixels with
``frame1(p + flow(p)) ~ frame0(p)``. OpenCV's ``calc(I0, I1)`` already returns that (x, y).
scikit-image's ``optical_flow_tvl1(reference, moving)`` returns (v, u), row first, such that
``moving(p + (v, u)) ~ reference(p)``: with reference = frame0 and moving = frame1 only the channel
order changes. The script checks the sign empirically (the other sign must be far worse).

(a1) 64 pairs of 128x128 crops of real images (skimage astronaut, camera, coffee, chelsea, ...)
     deformed by known smooth fields (translation plus a sine field) at micro-expression amplitude
     (peak 0.2-3 px); frame0(p) = frame1(p + flow(p)) by cubic interpolation. EPE over the
     interior (8 px margin).
(a2) skimage.data.stereo_motorcycle(), Middlebury: left -> right flow is u = -disparity, v = 0;
     invalid pixels (+inf) are excluded. Run at half resolution (area downscale, 370x250, the
     disparity halved) to keep displacements within reach of a 5-level 0.8 pyramid; EPE is
     reported in half-resolution pixels. Every method is run on the unperturbed pair and on
     ``--moto-draws`` copies of it with independent, imperceptible Gaussian noise (sigma a quarter
     of one 8-bit grey level, 0.25/255, on both frames, clipped to [0, 1], seeded), the same copies
     for every method. Why: on this pair the TV-L1 solve fails (OpenCV's five 0.8-step levels cannot
     follow disparities this large), and there one pair's EPE is dominated by float rounding. Noise
     of sigma 1e-3 moved each method's EPE by up to +-0.07 px and flipped the ranking from draw to
     draw (fused / eager / OpenCV: unperturbed 11.096 / 11.057 / 11.070 px; five noisy draws
     11.085 / 11.066 / 11.076, 11.046 / 11.060 / 11.065, 11.018 / 11.024 / 11.001,
     11.082 / 11.104 / 11.095, 10.959 / 10.984 / 10.968), so the unperturbed 0.03 px gap between
     fused and OpenCV is no difference by itself. The table gives each method's unperturbed EPE and
     its mean over the draws; the second table the paired difference against OpenCV (mean over the
     draws of EPE(method) - EPE(OpenCV) on the same copy) with a 95% Student t interval over the
     draws (the draws are independent; the interval is exact if the differences are normal, an
     approximation otherwise), and on how many copies the method was no worse than OpenCV.
(b)  speed on the (a1) pairs: ours fused (numba kernels, the CPU default) on the whole batch in one
     call and pair by pair, ours eager (the torch reference) on the whole batch; OpenCV and
     scikit-image pair by pair. Torch threads = 2. Each timing is the best of ``--rounds`` rounds,
     interleaved. One table: EPE on (a1) and (a2), ms per pair and the speed ratios. The machine
     may be shared: the load average is printed at the start and the end; compare ratios.
(c)  the fused kernels' start-up in this process: whether numba's disk cache held them, and the
     seconds the first call took (loading or compiling).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy import ndimage, stats
from skimage import color, data, transform
from skimage.registration import optical_flow_tvl1

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mer.flow import FAST, TVL1Params, _fused, tvl1_flow  # noqa: E402

SIZE = 128
MARGIN = 8
MOTO_NOISE = 0.25 / 255  # a quarter of one 8-bit grey level
OPENCV = "OpenCV DualTVL1 (defaults)"


def _images() -> list[np.ndarray]:
    rgb = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    grey = [color.rgb2gray(img) for img in rgb] + [data.camera() / 255.0, data.moon() / 255.0]
    return [g.astype(np.float64) for g in grey]


def make_pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, H, W) frame0, frame1 in [0, 1] float32 and (n, 2, H, W) true flow."""
    rng = np.random.default_rng(seed)
    images = _images()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    f0s, f1s, flows = [], [], []
    for k in range(n):
        img = images[k % len(images)]
        h, w = img.shape
        side = int(rng.integers(160, min(h, w, 320)))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        frame1 = transform.resize(img[y0 : y0 + side, x0 : x0 + side], (SIZE, SIZE), anti_aliasing=True)
        peak = rng.uniform(0.2, 3.0)
        tx, ty = rng.uniform(-0.5, 0.5, 2)
        ph = rng.uniform(0, 2 * np.pi, 4)
        fx, fy = rng.uniform(0.5, 1.5, 2)
        u = tx + np.sin(2 * np.pi * fx * yy / SIZE + ph[0]) * np.cos(np.pi * xx / SIZE + ph[1])
        v = ty + np.cos(2 * np.pi * fy * xx / SIZE + ph[2]) * np.sin(np.pi * yy / SIZE + ph[3])
        scale = peak / max(np.abs(u).max(), np.abs(v).max())
        flow = np.stack((u * scale, v * scale))
        frame0 = ndimage.map_coordinates(frame1, np.stack((yy + flow[1], xx + flow[0])), order=3, mode="reflect")
        f0s.append(np.clip(frame0, 0, 1))
        f1s.append(frame1)
        flows.append(flow)
    return (np.stack(f0s).astype(np.float32), np.stack(f1s).astype(np.float32), np.stack(flows).astype(np.float32))


def epe(est: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None, margin: int = MARGIN) -> np.ndarray:
    err = np.hypot(est[..., 0, :, :] - truth[..., 0, :, :], est[..., 1, :, :] - truth[..., 1, :, :])
    if valid is not None:
        return err[valid]
    return err[..., margin:-margin, margin:-margin].ravel()


def run_opencv(f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()  # OpenCV's defaults
    return np.stack([tvl1.calc(a, b, None).transpose(2, 0, 1) for a, b in zip(f0, f1)])


def run_skimage(f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
    out = []
    for a, b in zip(f0, f1):
        v, u = optical_flow_tvl1(a, b)  # (row, col) order
        out.append(np.stack((u, v)))
    return np.stack(out).astype(np.float32)


def run_ours(f0: np.ndarray, f1: np.ndarray, params: TVL1Params, backend: str = "fused") -> np.ndarray:
    flow = tvl1_flow(torch.from_numpy(f0)[:, None], torch.from_numpy(f1)[:, None], params, backend=backend)
    return flow.numpy()


def timed(fn, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def motorcycle() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    left, right, disp = data.stereo_motorcycle()
    gl = color.rgb2gray(left).astype(np.float32)
    gr = color.rgb2gray(right).astype(np.float32)
    h, w = gl.shape
    size = (w // 2, h // 2)
    gl = cv2.resize(gl, size, interpolation=cv2.INTER_AREA)
    gr = cv2.resize(gr, size, interpolation=cv2.INTER_AREA)
    d = disp[: 2 * size[1] : 2, : 2 * size[0] : 2].astype(np.float64)
    valid = np.isfinite(d)
    # a half-resolution pixel is valid only if its 2x2 block is
    block = np.isfinite(disp[: 2 * size[1], : 2 * size[0]]).reshape(size[1], 2, size[0], 2).all(axis=(1, 3))
    valid &= block
    d = np.where(valid, d, 0.0) / 2.0
    truth = np.stack((-d, np.zeros_like(d))).astype(np.float32)  # u = -disparity, v = 0
    return gl[None], gr[None], truth[None], valid


def noisy_copies(f0: np.ndarray, f1: np.ndarray, draws: int, sigma: float = MOTO_NOISE,
                 seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pair itself, then ``draws`` copies with independent Gaussian noise on both frames.

    Args:
        f0, f1: (N, H, W) float32 frames in [0, 1].
        draws: noisy copies after the unperturbed pair.
        sigma: noise standard deviation, in the frames' units (1 = white).
        seed: seed of the noise; the same seed gives the same copies.

    Returns:
        ``draws + 1`` (frame0, frame1) pairs, (N, H, W) float32 clipped to [0, 1]; the first is
        the input unchanged.
    """
    rng = np.random.default_rng(seed)
    copies = [(f0, f1)]
    for _ in range(draws):
        n0, n1 = (np.clip(f + rng.normal(0.0, sigma, f.shape), 0.0, 1.0).astype(np.float32) for f in (f0, f1))
        copies.append((n0, n1))
    return copies


def paired_interval(diffs: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its Student t interval over independent draws.

    Args:
        diffs: (D,) differences, D >= 2.
        level: coverage of the interval.

    Returns:
        (mean, low, high), in the differences' units.
    """
    mean = float(diffs.mean())
    half = float(stats.t.ppf(0.5 + level / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def _cells(values: list[float], fmt: str) -> list[str]:
    return [format(v, fmt) for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--moto-draws", type=int, default=8,
                        help="noisy copies of the (a2) pair, besides the pair itself (>= 2)")
    args = parser.parse_args()
    if args.moto_draws < 2:
        parser.error(f"--moto-draws must be >= 2 for an interval, got {args.moto_draws}")
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, OpenCV {cv2.__version__} "
          f"(threads {cv2.getNumThreads()}), cpus {os.cpu_count()}, load avg at start {os.getloadavg()[0]:.1f}")

    start = time.perf_counter()
    state = _fused.warm_up()
    startup = time.perf_counter() - start
    f0, f1, truth = make_pairs(args.pairs)
    ours = "mer TV-L1 fused, batched (OpenCV defaults)"
    by_pair = "mer TV-L1 fused, pair by pair (OpenCV defaults)"
    methods = {
        ours: lambda a, b: run_ours(a, b, TVL1Params()),
        by_pair: lambda a, b: np.concatenate(
            [run_ours(a[k : k + 1], b[k : k + 1], TVL1Params()) for k in range(len(a))]),
        "mer TV-L1 eager, batched (OpenCV defaults)": lambda a, b: run_ours(a, b, TVL1Params(), "eager"),
        "mer TV-L1 fused, batched (FAST preset)": lambda a, b: run_ours(a, b, FAST),
        OPENCV: run_opencv,
        "skimage optical_flow_tvl1 (defaults)": run_skimage,
    }
    flows: dict[str, np.ndarray] = {}
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, fn in methods.items():
            out, seconds = timed(fn, f0, f1)
            flows[name] = out
            best[name] = min(best.get(name, np.inf), seconds)

    # sign sanity check of the conversions
    for name, out in flows.items():
        right, flipped = epe(out, truth).mean(), epe(-out, truth).mean()
        assert right < flipped, f"{name}: flipped sign fits better ({flipped:.3f} < {right:.3f})"

    m0, m1, mtruth, valid = motorcycle()
    copies = noisy_copies(m0, m1, args.moto_draws)
    moto: dict[str, np.ndarray] = {}  # (1 + draws,) mean EPE per copy, the unperturbed pair first
    for name, fn in methods.items():
        if name == by_pair:  # one pair: the batched call is the same
            continue
        moto[name] = np.array([epe(fn(a, b)[0], mtruth[0], valid).mean() for a, b in copies])
    moto[by_pair] = moto[ours]

    print(f"\n(a1) {args.pairs} pairs {SIZE}x{SIZE}, known smooth deformations, peak 0.2-3 px, EPE in px over "
          f"the interior; (a2) stereo_motorcycle at half resolution ({m0.shape[2]}x{m0.shape[1]}, "
          f"{valid.sum()} valid pixels, u = -disparity / 2), EPE in half-resolution px, mean over the valid "
          f"pixels, on the pair itself and averaged over {args.moto_draws} copies with noise of sigma 0.25/255 "
          f"on both frames. Time per (a1) pair, best of {args.rounds} rounds; ratios > 1: this method is faster\n")
    print("| method | (a1) EPE mean | (a1) EPE median | (a2) EPE, pair | (a2) EPE, mean of noisy copies "
          "| ms / pair | OpenCV / this | skimage / this |")
    print("|---|---|---|---|---|---|---|---|")
    for name, out in flows.items():
        err = epe(out, truth)
        ms = best[name] / args.pairs * 1000
        cells = [name, *_cells([err.mean(), np.median(err), moto[name][0], moto[name][1:].mean()], ".3f"),
                 f"{ms:.1f}", *_cells([best[OPENCV] / best[name],
                                       best["skimage optical_flow_tvl1 (defaults)"] / best[name]], ".2f")]
        print("| " + " | ".join(cells) + " |")
    print(f"\n(a2) paired against OpenCV over the {args.moto_draws} noisy copies: EPE(method) - EPE(OpenCV) on "
          "the same copy, px; < 0: this method is more accurate; 95% Student t interval over the draws\n")
    print("| method | difference, pair | mean difference | 95% interval | copies no worse than OpenCV |")
    print("|---|---|---|---|---|")
    for name, per_copy in moto.items():
        if name in (OPENCV, by_pair):
            continue
        diffs = per_copy - moto[OPENCV]
        mean, low, high = paired_interval(diffs[1:])
        print(f"| {name} | {diffs[0]:+.3f} | {mean:+.3f} | [{low:+.3f}, {high:+.3f}] "
              f"| {(diffs[1:] <= 0).sum()} of {args.moto_draws} |")
    for other in ("mer TV-L1 eager, batched (OpenCV defaults)", "OpenCV DualTVL1 (defaults)"):
        diff = np.hypot(*(flows[ours] - flows[other]).transpose(1, 0, 2, 3))
        print(f"\nmer fused vs {other}, per-pixel |flow difference|: mean {diff.mean():.4f} px, "
              f"median {np.median(diff):.4f} px, 99th percentile {np.percentile(diff, 99):.3f} px")
    print(f"\nfused kernels at start: {state} in numba's cache ({os.environ.get('NUMBA_CACHE_DIR', 'default')}); "
          f"first call {startup:.1f} s; load avg at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
