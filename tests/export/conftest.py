"""Small exported-clip fixtures: three corpora, two subjects each, known flow fields."""

from __future__ import annotations

import numpy as np
import pytest

from mer.export import ExportClip

#: (dataset, subject, clip, label) in mer's disk spelling.
CLIPS = (
    ("casme2", "sub01", "sub01_EP02_01f", "positive"),
    ("casme2", "sub02", "sub02_EP03_02f", "negative"),
    ("smic", "s1", "s1_ne_01", "negative"),
    ("smic", "s3", "s3_sur_02", "surprise"),
    ("samm", "006", "006_1_2", "negative"),
    ("samm", "007", "007_6_1", "positive"),
)
SIZE = 64


def make_clip(index: int, dataset: str, subject: str, clip: str, label: str,
              frames: bool = True) -> ExportClip:
    """One clip with u a horizontal ramp, v a vertical ramp and strain their sum (all distinct)."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    u, v = (xs - SIZE / 2) * 0.01 * (index + 1), (ys - SIZE / 2) * 0.02
    rng = np.random.default_rng(index)
    pixels = rng.integers(0, 256, size=(4, SIZE, SIZE, 3), dtype=np.uint8)
    numbers = np.arange(10, 14, dtype=np.int32)
    return ExportClip(dataset, subject, clip, label, 10, 12, u, v, np.abs(u) + np.abs(v),
                      pixels if frames else None, numbers if frames else None)


@pytest.fixture
def clips() -> list[ExportClip]:
    """Six labelled clips of casme2, smic and samm with aligned frames 10..13, apex 12."""
    return [make_clip(k, *item) for k, item in enumerate(CLIPS)]
