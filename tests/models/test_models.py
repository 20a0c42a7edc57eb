"""Shapes, sizes and input checks of the registered models."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from mer.models import InputNorm, create_model
from mer.models.base import centre_fields, grid_pool, normalise_flow
from mer.models.micro_attention import MicroAttention




@pytest.mark.parametrize(
    ("name", "hparams", "embed_dim"),
    [
        ("ststnet", {}, 400),
        ("ststnet", {"input_size": 32}, 16 * 5 * 5),
        ("micro_attention", {}, 128),
        ("micro_attention", {"input_size": 32, "widths": (8, 8, 16, 16)}, 16),
        ("micro_attention", {"pool_grid": 2}, 128 * 4),
        ("miacnet", {}, 3 * 32),
        ("miacnet", {"pool_grid": 4}, 3 * 32 * 16),
    ],
)
@pytest.mark.parametrize("size", [32, 128])
def test_logits_and_embedding_shapes(model_inputs, 
    name: str, hparams: dict[str, Any], embed_dim: int, size: int
) -> None:
    model = create_model(name, **hparams).eval()
    inputs = model_inputs(5, size)
    assert model(inputs).shape == (5, 3)
    assert model.features(inputs).shape == (5, embed_dim)


def test_ststnet_has_the_published_size(n_params) -> None:
    # 3 streams (3 x 3 x 3 convs with 3, 5, 8 filters + BN) and a 400 -> 3 linear layer.
    assert n_params(create_model("ststnet")) == (27 + 1 + 2) * 16 + 400 * 3 + 3


def test_micro_attention_is_small_and_attention_is_cheap(n_params) -> None:
    with_attention = n_params(create_model("micro_attention"))
    without = n_params(create_model("micro_attention", attention=False))
    assert with_attention < 400_000
    assert 0 < with_attention - without < 0.03 * without


def test_micro_attention_mask_is_spatial_and_in_unit_interval() -> None:
    mask = MicroAttention(8)(torch.randn(2, 8, 9, 7))
    assert mask.shape == (2, 1, 9, 7)
    assert bool(((mask > 0) & (mask < 1)).all())


@pytest.mark.parametrize("name", ["ststnet", "micro_attention"])
def test_missing_input_is_named(name: str) -> None:
    model = create_model(name)
    with pytest.raises(ValueError, match=r"missing input\(s\) \['flow'\]"):
        model({"apex": torch.rand(2, 1, 32, 32)})


def test_wrong_channel_count_is_named() -> None:
    with pytest.raises(ValueError, match=r"'flow' must be \(B, 3, H, W\), got \(2, 2, 32, 32\)"):
        create_model("ststnet")({"flow": torch.randn(2, 2, 32, 32)})


@pytest.mark.parametrize(("name", "hparams"), [("ststnet", {"input_size": 5}),
                                               ("micro_attention", {"widths": (8, 8)}),
                                               ("micro_attention", {"dropout": 1.0}),
                                               ("micro_attention", {"pool_grid": 3}),
                                               ("miacnet", {"pool_grid": 16})])
def test_bad_hparams_are_rejected(name: str, hparams: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=name):
        create_model(name, **hparams)


def test_centred_fields_lose_a_uniform_shift_and_keep_the_rest() -> None:
    local = torch.zeros(2, 2, 3, 4, 4)
    local[..., 1, 2] = 1.6  # one moving cell per field
    shifted = local + torch.tensor([0.5, -0.3]).view(1, 2, 1, 1, 1)
    centred = centre_fields(shifted)
    assert centred.shape == shifted.shape
    assert torch.allclose(centred, local - 0.1)  # 1.6 / 16: the local motion's own mean
    assert torch.allclose(centred.mean(dim=(-2, -1)), torch.zeros(2, 2, 3), atol=1e-6)


def test_normalised_flow_loses_amplitude_and_drift_and_keeps_the_pattern() -> None:
    flow = torch.zeros(2, 3, 4, 4)
    flow[:, 0, 1, 2], flow[:, 1, 1, 2], flow[:, 2, 1, 2] = 12.0, -9.0, 4.0  # one moving cell
    weak_and_drifting = 0.3 * flow + torch.tensor([0.3, -0.2, 0.05]).view(1, 3, 1, 1)
    normalised = normalise_flow(weak_and_drifting)
    assert torch.allclose(normalised, normalise_flow(flow), rtol=1e-2)  # eps: 1e-3
    motion, strain = normalised[:, :2], normalised[:, 2]
    assert torch.allclose(motion.square().sum(dim=1).mean(dim=(-2, -1)), torch.ones(2), atol=1e-2)
    assert torch.allclose(strain.square().mean(dim=(-2, -1)), torch.ones(2), atol=1e-2)
    assert torch.allclose(motion[:, 0, 1, 2] / motion[:, 1, 1, 2], torch.tensor(-12.0 / 9.0))


@pytest.mark.parametrize("name", ["micro_attention", "miacnet"])
def test_a_normalised_flow_reader_ignores_a_clips_amplitude_and_drift(model_inputs,
                                                                      name: str) -> None:
    inputs = model_inputs(4, 64)
    weak = inputs | {"flow": 0.2 * inputs["flow"] + torch.tensor([0.7, -0.4, 0.1]).view(1, 3, 1, 1)}
    torch.manual_seed(0)
    normalised = create_model(name, normalise_flow=True).eval()
    assert torch.allclose(normalised(weak), normalised(inputs), atol=1e-3)
    torch.manual_seed(0)
    plain = create_model(name).eval()
    assert not torch.allclose(plain(weak), plain(inputs), atol=1e-2)


def test_grid_pooling_keeps_where_a_feature_fired() -> None:
    maps = torch.zeros(1, 1, 8, 8)
    maps[0, 0, :4, :4] = 1.0  # top left only
    assert grid_pool(maps, 1).tolist() == [[0.25]]
    assert grid_pool(maps, 2).tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_input_norm_standardises_what_it_was_fitted_on(model_inputs) -> None:
    norm = InputNorm(("flow", "apex"))
    inputs = model_inputs(4, 16)
    inputs["flow"] = inputs["flow"] * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 3.0
    inputs["apex"] = torch.full((4, 1, 16, 16), 0.5)  # a constant channel is only centred
    norm.fit(inputs)
    out = norm(inputs)
    assert torch.allclose(out["flow"].mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out["flow"].std(dim=(0, 2, 3), correction=0), torch.ones(3), atol=1e-4)
    assert torch.equal(out["apex"], torch.zeros_like(out["apex"]))


def test_reset_parameters_resets_the_input_statistics() -> None:
    model = create_model("ststnet")
    model.norm.fit({"flow": torch.randn(4, 3, 8, 8) * 7 + 2})
    model.reset_parameters()
    assert torch.equal(model.norm.flow_mean, torch.zeros(3))
    assert torch.equal(model.norm.flow_std, torch.ones(3))


def test_micro_attention_apex_variant_reads_the_apex_frame_only(n_params) -> None:
    model = create_model("micro_attention", input_size=32, inputs="apex").eval()
    assert model.input_keys == ("apex",)
    assert create_model("micro_attention").input_keys == ("apex", "flow")
    logits = model({"apex": torch.rand(2, 1, 40, 40)})  # no flow needed
    assert logits.shape == (2, 3)
    assert n_params(model) < n_params(create_model("micro_attention", input_size=32))
    with pytest.raises(ValueError, match="inputs must be one of"):
        create_model("micro_attention", inputs="onset")


def test_micro_attention_exposes_one_mask_per_block() -> None:
    model = create_model("micro_attention", input_size=64).eval()
    inputs = {"apex": torch.rand(2, 1, 64, 64), "flow": torch.randn(2, 3, 64, 64)}
    masks = model.attention_masks(inputs)
    assert [tuple(m.shape) for m in masks] == [(2, 1, 16, 16), (2, 1, 8, 8), (2, 1, 4, 4),
                                               (2, 1, 2, 2)]
    assert all(bool(((m > 0) & (m < 1)).all()) for m in masks)
    assert create_model("micro_attention", attention=False).attention_masks(inputs) == []
    # The masks are those the forward pass applies.
    seen: list[torch.Tensor] = []
    for block in model.blocks:
        block.attention.register_forward_hook(lambda _m, _i, out: seen.append(out))
    model(inputs)
    assert len(seen) == 4 and all(torch.equal(a, b) for a, b in zip(seen, masks, strict=True))
