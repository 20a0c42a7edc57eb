"""Toy macro-expression clips: a bright blob that moves steadily (so the future is predictable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch


def moving_blob_clip(n_frames: int = 9, size: int = 32, seed: int = 0) -> np.ndarray:
    """``(T, size, size)`` uint8 grey frames of a Gaussian blob moving right one pixel per frame
    over a fixed random texture."""
    rng = np.random.default_rng(seed)
    background = rng.uniform(60, 120, size=(size, size))
    y, x = np.mgrid[0:size, 0:size]
    y0, x0 = rng.uniform(size * 0.3, size * 0.6, size=2)
    frames = [background + 120 * np.exp(-((x - x0 - t) ** 2 + (y - y0) ** 2) / 8.0)
              for t in range(n_frames)]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def blob_clip() -> Callable[..., np.ndarray]:
    """The clip maker :func:`moving_blob_clip`."""
    return moving_blob_clip


@pytest.fixture(scope="session")
def toy_clips() -> list[np.ndarray]:
    """Six 9-frame 32 x 32 moving-blob clips."""
    return [moving_blob_clip(seed=s) for s in range(6)]


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny convolutions gain nothing from threads and lose much on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
