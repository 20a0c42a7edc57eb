"""TVL1Params: OpenCV's names and defaults, building from a params.yaml-like dict."""

from __future__ import annotations

import dataclasses

import pytest

from mer.flow import FAST, PRESETS, TVL1Params


def test_defaults_are_opencv_defaults() -> None:
    p = TVL1Params()
    assert (p.tau, p.lambda_, p.theta, p.nscales, p.warps, p.epsilon) == (0.25, 0.15, 0.3, 5, 5, 0.01)
    assert (p.inner_iterations, p.outer_iterations, p.scale_step, p.gamma, p.median_filtering) == (30, 10, 0.8, 0.0, 5)
    assert PRESETS["opencv"] == p
    assert FAST != p


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TVL1Params().tau = 0.1  # type: ignore[misc]


def test_from_mapping_with_lambda_key_round_trips() -> None:
    p = TVL1Params.from_mapping({"lambda": 0.3, "warps": 3})
    assert p.lambda_ == 0.3 and p.warps == 3
    assert TVL1Params.from_mapping(p.to_mapping()) == p


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"lamda": 0.3}, "unknown key"),
        ({"lambda": 0.3, "lambda_": 0.2}, "not both"),
        ({"warps": 0}, "warps"),
        ({"warps": 2.5}, "integer"),
        ({"gamma": 0.1}, "gamma"),
        ({"median_filtering": 4}, "odd"),
        ({"tau": float("nan")}, "finite"),
    ],
)
def test_from_mapping_rejects(values, match) -> None:
    with pytest.raises(ValueError, match=match):
        TVL1Params.from_mapping(values)
