"""Flow colour coding: directions, magnitude, bad values, stable PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mer.report import colour_wheel, flow_to_rgb, png_bytes, wheel_legend
from mer.report.flowviz import grey_to_rgb


def _colour(u: float, v: float, scale: float = 1.0) -> tuple[int, ...]:
    return tuple(int(c) for c in flow_to_rgb(np.array([[u]]), np.array([[v]]), scale)[0, 0])


def test_directions_follow_the_middlebury_wheel() -> None:
    assert len(colour_wheel()) == 55
    assert _colour(1, 0) == (255, 0, 0)  # rightwards: red
    red, green, blue = _colour(0, 1)  # downwards (image y): yellow
    assert red == 255 and green > 200 and blue == 0
    red, green, blue = _colour(-1, 0)  # leftwards: cyan-blue
    assert red == 0 and blue == 255
    red, green, blue = _colour(0, -1)  # upwards: violet
    assert blue == 255 and green == 0


def test_magnitude_is_saturation() -> None:
    assert _colour(0, 0) == (255, 255, 255)
    half, full = _colour(0.5, 0, 1.0), _colour(1.0, 0, 1.0)
    assert full == (255, 0, 0) and half[0] == 255 and 100 < half[1] < 160
    assert _colour(2.0, 0, 1.0) == (191, 0, 0)  # beyond the scale: darker


def test_default_scale_and_bad_values() -> None:
    u = np.array([[0.0, 2.0, np.nan]])
    v = np.zeros_like(u)
    rgb = flow_to_rgb(u, v)
    assert rgb[0, 1].tolist() == [255, 0, 0] and rgb[0, 2].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="one \\(H, W\\) shape"):
        flow_to_rgb(np.zeros((2, 2)), np.zeros((2, 3)))


def test_legend_and_png_bytes_are_stable() -> None:
    legend = wheel_legend(48)
    assert legend.shape == (48, 48, 3) and legend.dtype == np.uint8
    assert legend[0, 0].tolist() == [255, 255, 255]
    data = png_bytes(legend)
    assert data == png_bytes(legend.copy()) and data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as image:
        assert np.array_equal(np.asarray(image), legend)


def test_grey_to_rgb() -> None:
    assert grey_to_rgb(np.full((2, 2), 7, np.uint8))[0, 0].tolist() == [7, 7, 7]
    stretched = grey_to_rgb(np.array([[0.0, 1.0]], np.float32))
    assert stretched[0, 0, 0] == 0 and stretched[0, 1, 0] == 255
