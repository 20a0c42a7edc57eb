"""The template constants, their derivation from dlib's model, and their placement in a crop."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mer.faces.template import (
    MIRROR,
    TEMPLATE,
    eye_centres,
    read_dlib_mean_shape,
    template_pixels,
    unit_template_from_mean_shape,
)


def test_template_is_derived_from_dlib_mean_shape():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models

    mean = read_dlib_mean_shape(face_recognition_models.pose_predictor_model_location())
    assert mean.shape == (68, 2)
    np.testing.assert_allclose(unit_template_from_mean_shape(mean), TEMPLATE, atol=6e-5)


def test_mirror_is_an_involution_and_template_is_symmetric():
    assert sorted(MIRROR) == list(range(68))
    np.testing.assert_array_equal(MIRROR[MIRROR], np.arange(68))
    mirrored = TEMPLATE[MIRROR].copy()
    mirrored[:, 0] = 1.0 - mirrored[:, 0]
    np.testing.assert_allclose(mirrored, TEMPLATE, atol=1e-4)


def test_template_fills_the_unit_square_with_level_eyes():
    low, high = TEMPLATE.min(axis=0), TEMPLATE.max(axis=0)
    assert low[0] == 0.0 and high[0] == 1.0
    assert (low[1] + high[1]) / 2 == pytest.approx(0.5, abs=1e-4)
    left, right = eye_centres(TEMPLATE)
    assert left[1] == pytest.approx(right[1], abs=1e-4)
    assert left[0] < right[0]


@pytest.mark.parametrize(("size", "margin"), [(128, 0.0), (128, 0.2), (64, 0.5)])
def test_template_pixels_keeps_margin_on_every_side(size, margin):
    points = template_pixels(size, margin)
    side = size / (1 + 2 * margin)
    # the template's width spans `side` pixels, centred; crop edges are at -0.5 and size - 0.5
    assert points[:, 0].max() - points[:, 0].min() == pytest.approx(side)
    assert points[:, 0].min() + 0.5 == pytest.approx(margin * side)
    assert size - 0.5 - points[:, 0].max() == pytest.approx(margin * side)
