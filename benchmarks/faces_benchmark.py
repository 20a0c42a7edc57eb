"""Alignment throughput: mer.faces (one detection, one batched kornia warp) vs cv2 frame by frame.

Clips of 30 frames at 256x256 and 640x480 built from skimage's astronaut (the face drifts by
0.2 px per frame). Per clip: HOG detection on the reference frame, 68 landmarks (+ refinement),
the similarity fit and the warp of all frames. The reference path shares detection and landmarks
and warps frame by frame with ``cv2.warpAffine`` (bilinear, same matrix, with the same Gaussian
pre-blur when the face is shrunk).

Usage: ``.venv/bin/python benchmarks/faces_benchmark.py [--repeats 5] [--threads N] [--device cpu]``
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch
from skimage import data

from mer.faces import align_clip, template_pixels
from mer.faces.detect import find_face, refine_landmarks
from mer.faces.similarity import umeyama
from mer.faces.template import FIT_POINTS
from mer.faces.warp import antialias_sigma, warp_clip

FRAMES = 30
SIZE = 128
MARGIN = 0.2


def make_clip(width: int, height: int) -> np.ndarray:
    """A (30, height, width, 3) clip with the astronaut's face (about 87 px) drifting slowly."""
    image = data.astronaut()
    canvas = np.full((max(height, 512), max(width, 512), 3), 200, np.uint8)
    canvas[:512, :512] = image
    cx, cy = 222, 140  # about the face centre in the astronaut photo
    frames = []
    for t in range(FRAMES):
        dx, dy = width / 2 - cx + 0.2 * t, height / 2 - cy + 0.1 * t
        shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        frames.append(
            cv2.warpAffine(canvas, shift, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        )
    return np.stack(frames)


def cv2_warp(frames: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The reference: frame by frame, OpenCV bilinear, border replicated, same pre-blur rule."""
    sigma = antialias_sigma(matrix)
    out = np.empty((len(frames), size, size, frames.shape[-1]), np.uint8)
    for i, frame in enumerate(frames):
        if sigma > 0.1:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        out[i] = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return out


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - start) * 1000.0


def run(width: int, height: int, repeats: int, device: str) -> dict[str, float]:
    clip = make_clip(width, height)
    template = template_pixels(SIZE, MARGIN)
    align_clip(clip[:2], size=SIZE, margin=MARGIN, device=device)  # warm-up: models, torch
    parts: dict[str, list[float]] = {k: [] for k in ("detect", "landmarks", "warp", "cv2_warp",
                                                      "total", "max_diff")}
    for _ in range(repeats):
        detection, t_detect = timed(lambda: find_face(clip, 0))
        landmarks, t_landmarks = timed(lambda: refine_landmarks(clip[0], detection.landmarks, 1))
        matrix = umeyama(landmarks[FIT_POINTS], template[FIT_POINTS])
        ours, t_warp = timed(lambda: warp_clip(clip, matrix, SIZE, device=device))
        reference, t_cv2 = timed(lambda: cv2_warp(clip, matrix, SIZE))
        _, t_total = timed(lambda: align_clip(clip, size=SIZE, margin=MARGIN, device=device))
        parts["detect"].append(t_detect)
        parts["landmarks"].append(t_landmarks)  # the first 68-point prediction is in "detect"
        parts["warp"].append(t_warp)
        parts["cv2_warp"].append(t_cv2)
        parts["total"].append(t_total)
        parts["max_diff"].append(float(np.abs(ours.astype(int) - reference).max()))
    return {k: statistics.median(v) for k, v in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"cv2 {cv2.__version__}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, "
          f"{FRAMES} frames per clip, crop {SIZE} px, median of {args.repeats}")
    print()
    print(
        "| frames | detect ms (HOG + 68 pts) | refine ms (18 predictions) "
        "| warp ms (kornia, batched) | warp ms (cv2, per frame) | warp ratio kornia/cv2 "
        "| clip ms (align_clip) | clips/s | clips/s with cv2 warp | max px diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for width, height in ((256, 256), (640, 480)):
        r = run(width, height, args.repeats, args.device)
        cv2_total = r["total"] - r["warp"] + r["cv2_warp"]
        print(f"| {width}x{height} | {r['detect']:.1f} | {r['landmarks']:.1f} | {r['warp']:.1f} | "
              f"{r['cv2_warp']:.1f} | {r['warp'] / r['cv2_warp']:.1f} | {r['total']:.1f} | "
              f"{1000 / r['total']:.1f} | {1000 / cv2_total:.1f} | {r['max_diff']:.0f} |")
    assert math.isfinite(r["total"])


if __name__ == "__main__":
    main()
