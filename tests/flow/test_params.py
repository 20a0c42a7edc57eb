"""TVL1Params: OpenCV's names and defaults, validated when built from a params.yaml-like dict."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mer.config import FlowParams
from mer.flow import FAST, PRESETS, TVL1Params


def test_defaults_are_opencv_defaults() -> None:
    p = TVL1Params()
    assert (p.tau, p.lambda_, p.theta, p.nscales, p.warps, p.epsilon) == (0.25, 0.15, 0.3, 5, 5, 0.01)
    assert (p.inner_iterations, p.outer_iterations, p.scale_step, p.gamma, p.median_filtering) == (30, 10, 0.8, 0.0, 5)
    assert PRESETS["opencv"] == p
    assert FAST != p


def test_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        TVL1Params().tau = 0.1  # type: ignore[misc]


def test_lambda_is_spelled_as_in_opencv_and_round_trips() -> None:
    p = TVL1Params.model_validate({"lambda": 0.3, "warps": 3})
    assert p.lambda_ == 0.3 and p.warps == 3
    assert TVL1Params.model_validate(p.model_dump(by_alias=True)) == p
    assert p.replace(**{"lambda": 0.2}).lambda_ == 0.2 == p.replace(lambda_=0.2).lambda_


def test_the_flow_stage_params_are_the_solver_params_and_its_own() -> None:
    stage = FlowParams.model_validate({"lambda": 0.3, "batch_size": 4})
    assert stage.solver() == TVL1Params(lambda_=0.3)
    assert set(FlowParams.model_fields) - set(TVL1Params.model_fields) == {
        "batch_size", "apex_to_offset", "max_magnitude", "apex_spotter", "sequence_frames",
        "sequence_size", "sequence_reference", "sequence_sampling"}


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"lamda": 0.3}, "lamda"),
        ({"warps": 0}, "warps"),
        ({"warps": 2.5}, "integer"),
        ({"gamma": 0.1}, "gamma"),
        ({"median_filtering": 4}, "odd"),
        ({"tau": float("nan")}, "finite"),
    ],
)
def test_bad_values_are_named(values, match) -> None:
    with pytest.raises(ValidationError, match=match):
        TVL1Params.model_validate(values)
