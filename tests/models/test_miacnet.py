"""MIACNet: shapes, size, registry, features, the position gate and the flow branch."""

from __future__ import annotations

import pytest
import torch

from mer.models import create_model, default_hparams, list_models
from mer.models.miacnet import PRETRAINED_PREFIXES, MIACNet, PositionGate




def test_registered_with_its_defaults() -> None:
    assert "miacnet" in list_models()
    assert isinstance(create_model("miacnet"), MIACNet)
    assert default_hparams("miacnet") == {"input_size": 64, "widths": (8, 16, 32),
                                          "use_flow": True, "position_in_embedding": True,
                                          "dropout": 0.0, "pool_grid": 1,
                                          "normalise_flow": False}


@pytest.mark.parametrize(("hparams", "embed_dim"), [
    ({}, 96),
    ({"position_in_embedding": False}, 64),
    ({"input_size": 32, "widths": (4, 8)}, 24),
    ({"use_flow": False}, 64),
])
@pytest.mark.parametrize("size", [32, 128])
def test_logits_and_features_shapes(model_inputs, hparams: dict, embed_dim: int, size: int) -> None:
    model = create_model("miacnet", **hparams).eval()
    inputs = model_inputs(3, size)
    assert model(inputs).shape == (3, 3)
    assert model.features(inputs).shape == (3, embed_dim)
    assert model.input_keys == ("onset", "apex", "flow")


def test_param_budget_and_branches_are_twins(n_params) -> None:
    model = create_model("miacnet")
    assert 20_000 < n_params(model) < 100_000
    assert n_params(model.position) == n_params(model.action)
    assert type(model.position) is type(model.action)
    pretrainable = [k for k in model.state_dict() if k.startswith(PRETRAINED_PREFIXES)]
    assert pretrainable and all(not k.startswith(("norm.", "classifier.", "flow."))
                                for k in pretrainable)


def test_flow_is_used_from_the_first_step_and_apart_from_the_pretrained_parts(
        model_inputs) -> None:
    torch.manual_seed(0)
    model = create_model("miacnet").eval()
    model.reset_parameters()
    inputs = model_inputs(2, 64)
    other = {**inputs, "flow": inputs["flow"] * 10}
    assert not torch.allclose(model.features(inputs), model.features(other))
    normed, normed_other = model.norm(inputs), model.norm(other)
    assert torch.equal(model.encoder_features(normed), model.encoder_features(normed_other))
    logits = model(inputs)
    logits.sum().backward()
    assert model.flow.stem[0].weight.grad.abs().sum() > 0


def test_features_depend_on_the_motion(model_inputs) -> None:
    torch.manual_seed(0)
    model = create_model("miacnet", use_flow=False).eval()
    inputs = model_inputs(2, 64)
    still = {**inputs, "apex": inputs["onset"]}
    assert not torch.allclose(model.features(inputs), model.features(still))


def test_gate_mask_is_spatial_and_in_unit_interval() -> None:
    gated, mask = PositionGate(4)(torch.randn(2, 4, 5, 6), torch.ones(2, 4, 5, 6))
    assert mask.shape == (2, 1, 5, 6)
    assert bool(((mask > 0) & (mask < 1)).all())
    assert torch.allclose(gated, (1 + mask).expand_as(gated))


def test_missing_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"missing input\(s\) \['onset'\]"):
        create_model("miacnet")({"apex": torch.rand(2, 1, 32, 32), "flow": torch.rand(2, 3, 32, 32)})


@pytest.mark.parametrize("hparams", [{"widths": (8,)}, {"input_size": 60}, {"dropout": 1.0}])
def test_bad_hparams_are_rejected(hparams: dict) -> None:
    with pytest.raises(ValueError, match="miacnet"):
        create_model("miacnet", **hparams)
