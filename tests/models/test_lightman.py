"""LightmanNet: shapes, the two heads, hyper-parameter checks, a functional forward."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from mer.models import create_model, default_hparams, list_models
from mer.models.lightman import LightmanNet


def test_lightman_is_registered_with_its_defaults() -> None:
    assert "lightman" in list_models()
    assert default_hparams("lightman") == {"input_size": 32, "widths": (16, 32, 64),
                                           "embed_dim": 64, "dropout": 0.0}
    assert isinstance(create_model("lightman"), LightmanNet)


@pytest.mark.parametrize("size", [32, 128])
def test_logits_and_embedding_have_their_shapes(model_inputs, size: int) -> None:
    model = create_model("lightman", embed_dim=24).eval()
    inputs = model_inputs(5, size)
    assert model(inputs).shape == (5, 3)
    assert model.features(inputs).shape == (5, 24)
    assert not hasattr(model, "aligner")  # the auxiliary branch lives in the trainer


def test_lightman_is_small_and_has_no_running_statistics() -> None:
    model = create_model("lightman")
    assert sum(p.numel() for p in model.parameters()) < 150_000
    # Only the input statistics are buffers: the inner loop is a pure function of the weights.
    assert sorted(name for name, _ in model.named_buffers()) == [
        "norm.apex_mean", "norm.apex_std", "norm.flow_mean", "norm.flow_std"]


def test_functional_call_with_other_weights_changes_the_output(model_inputs) -> None:
    model = create_model("lightman").eval()
    inputs = model_inputs(2, 32)
    params = {n: p.detach() * 1.5 for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())
    out = functional_call(model, (params, buffers), (inputs,))
    assert not torch.allclose(out, model(inputs))


@pytest.mark.parametrize(
    ("hparams", "message"),
    [({"input_size": 12}, "input_size"), ({"input_size": 36}, "multiple of 8"),
     ({"widths": (8, 8)}, "widths"), ({"embed_dim": 0}, "embed_dim"),
     ({"dropout": 1.0}, "dropout")],
)
def test_bad_hparams_are_named(hparams: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_model("lightman", **hparams)


def test_missing_apex_is_reported() -> None:
    with pytest.raises(ValueError, match="missing input"):
        create_model("lightman")({"flow": torch.zeros(1, 3, 32, 32)})
