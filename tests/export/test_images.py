"""Flow fields as 28x28 (u, v, strain) images."""

from __future__ import annotations

import numpy as np

from mer.export.images import flow_image, minmax_uint8, resize_area


def test_resize_area_averages_blocks() -> None:
    field = np.zeros((4, 4), dtype=np.float32)
    field[:2, :2] = 4.0
    assert np.allclose(resize_area(field, 2), [[4.0, 0.0], [0.0, 0.0]])


def test_minmax_stretches_to_full_range_and_zeroes_constant() -> None:
    stretched = minmax_uint8(np.array([[-1.0, 0.0, 1.0]]))
    assert stretched.tolist() == [[0, 128, 255]]
    assert not minmax_uint8(np.full((3, 3), 2.5)).any()
    assert minmax_uint8(np.array([[np.nan, 1.0, 2.0]])).tolist() == [[0, 128, 255]]


def test_flow_image_channels_are_u_v_strain() -> None:
    ys, xs = np.mgrid[0:56, 0:56].astype(np.float32)
    image = flow_image(xs, ys, -xs)
    assert image.shape == (28, 28, 3) and image.dtype == np.uint8
    assert image[0, 0, 0] == 0 and image[0, -1, 0] == 255  # u grows left to right
    assert image[0, 0, 1] == 0 and image[-1, 0, 1] == 255  # v grows top to bottom
    assert image[0, 0, 2] == 255 and image[0, -1, 2] == 0  # strain, its own channel
