"""Micro-attention overlays: colours, nearest-neighbour upsampling, the masks of a fold model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer.evaluation.attention import attention_maps
from mer.models import create_model
from mer.report.attention import heat, overlay


def test_heat_runs_from_blue_to_red() -> None:
    colours = heat(np.array([0.0, 1.0]))
    assert colours[0].argmax() == 2 and colours[1].argmax() == 0


def test_overlay_shows_a_coarse_mask_as_blocks_stretched_to_its_range() -> None:
    face = np.full((8, 8), 128, dtype=np.uint8)
    mask = np.array([[0.50, 0.52], [0.52, 0.54]])
    picture, low, high = overlay(face, mask)
    assert picture.shape == (8, 8, 3) and picture.dtype == np.uint8
    assert (low, high) == (0.50, 0.54)
    top_left, bottom_right = picture[:4, :4], picture[4:, 4:]
    assert (top_left == top_left[0, 0]).all() and (bottom_right == bottom_right[0, 0]).all()
    assert top_left[0, 0, 2] > top_left[0, 0, 0]  # the minimum is blue
    assert bottom_right[0, 0, 0] > bottom_right[0, 0, 2]  # the maximum is red


def test_attention_maps_are_the_model_s_masks() -> None:
    torch.manual_seed(0)
    model = create_model("micro_attention", input_size=32, widths=(4, 4, 8, 8))
    rng = np.random.default_rng(0)
    apex = rng.integers(0, 255, (40, 40), dtype=np.uint8)
    flow = rng.normal(size=(3, 40, 40)).astype(np.float32)
    maps = attention_maps(model, apex, flow)
    assert [m.shape for m in maps] == [(8, 8), (4, 4), (2, 2), (1, 1)]
    inputs = {"apex": torch.from_numpy(apex / 255.0).float()[None, None],
              "flow": torch.from_numpy(flow)[None]}
    expected = model.eval().attention_masks(inputs)
    assert all(np.array_equal(m, e[0, 0].numpy()) for m, e in zip(maps, expected, strict=True))
    with pytest.raises(ValueError, match="apex must be"):
        attention_maps(model, apex.astype(np.float32), flow)
