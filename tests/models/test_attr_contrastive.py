"""attr_contrastive: registry, shapes, the projection head and its input checks."""

from __future__ import annotations

import pytest
import torch

from mer.models import create_model, default_hparams, list_models
from mer.models.attr_contrastive import AttrContrastiveNet, Stream3d



def test_it_is_registered_with_its_defaults() -> None:
    assert "attr_contrastive" in list_models()
    assert default_hparams("attr_contrastive") == {
        "input_size": 32, "widths": (16, 32, 64), "embed_dim": 128, "text_dim": 384,
        "dropout": 0.0, "pool_grid": 1, "rgb": True, "centre_flows": False}
    assert isinstance(create_model("attr_contrastive"), AttrContrastiveNet)


@pytest.mark.parametrize("size", [32, 128])
@pytest.mark.parametrize(("hparams", "embed_dim", "text_dim"),
                         [({}, 128, 384), ({"input_size": 32, "widths": (8, 16),
                                            "embed_dim": 24, "text_dim": 10}, 24, 10)])
def test_logits_embedding_and_projection_shapes(model_inputs, hparams: dict, embed_dim: int,
                                                text_dim: int, size: int) -> None:
    model = create_model("attr_contrastive", **hparams).eval()
    inputs = model_inputs(5, size)
    assert model(inputs).shape == (5, 3)
    embedding = model.features(inputs)
    assert embedding.shape == (5, embed_dim)
    projected = model.project(embedding)
    assert projected.shape == (5, text_dim)
    assert torch.allclose(projected.norm(dim=1), torch.ones(5), atol=1e-5)


def test_centred_flows_ignore_a_translation_of_the_whole_head(model_inputs) -> None:
    torch.manual_seed(0)
    inputs = model_inputs(4, 32)
    moved = inputs | {"flows": inputs["flows"] + torch.tensor([0.7, -0.4]).view(1, 2, 1, 1, 1)}
    centred = create_model("attr_contrastive", rgb=False, centre_flows=True).eval()
    assert torch.allclose(centred(moved), centred(inputs), atol=1e-5)
    plain = create_model("attr_contrastive", rgb=False).eval()
    assert not torch.allclose(plain(moved), plain(inputs), atol=1e-3)


def test_it_reads_the_sequences_only() -> None:
    assert AttrContrastiveNet.input_keys == ("frames", "flows")


def test_without_rgb_it_reads_the_flows_alone_and_keeps_a_grid(model_inputs) -> None:
    model = create_model("attr_contrastive", rgb=False, pool_grid=4).eval()
    assert model.input_keys == ("flows",) and model.rgb is None
    inputs = {"flows": model_inputs(2, 32)["flows"]}
    assert model(inputs).shape == (2, 3)
    assert model.fuse[0].in_features == 64 * 4 * 4
    with pytest.raises(ValueError, match="pool_grid must be in 1..4"):
        create_model("attr_contrastive", pool_grid=5)


def test_both_streams_stay_temporal_to_the_last_layer(model_inputs) -> None:
    # A genuine 3D CNN: every convolution has a temporal kernel of 3, and the time axis is still
    # there after the last one (8 frames -> 8, 4, 2 steps); reversing time changes the embedding.
    model = create_model("attr_contrastive").eval()
    for stream in (model.rgb, model.motion):
        convs = [m for m in stream.layers if isinstance(m, torch.nn.Conv3d)]
        assert [c.kernel_size[0] for c in convs] == [3, 3, 3]
    frames = torch.rand(2, 3, 8, 32, 32)
    depth = model.rgb.layers[:-1](frames).shape[2]  # before the last ReLU
    assert depth == 2
    inputs = model_inputs(3, 32)
    reversed_time = {**inputs, "frames": inputs["frames"].flip(2), "flows": inputs["flows"].flip(2)}
    assert not torch.allclose(model.features(inputs), model.features(reversed_time), atol=1e-4)
    assert Stream3d(2, (4,))(torch.randn(2, 2, 1, 8, 8)).shape == (2, 4)  # one flow (K = 2)


def test_the_flow_stream_and_the_rgb_stream_both_reach_the_embedding(model_inputs) -> None:
    model = create_model("attr_contrastive", input_size=32).eval()
    inputs = model_inputs(2, 32)
    base = model.features(inputs)
    for key in ("frames", "flows"):
        changed = {**inputs, key: torch.zeros_like(inputs[key])}
        assert not torch.allclose(model.features(changed), base, atol=1e-5), key


def test_missing_inputs_and_bad_hparams_are_named(model_inputs) -> None:
    model = create_model("attr_contrastive", input_size=32)
    inputs = model_inputs(2, 32)
    del inputs["flows"]
    with pytest.raises(ValueError, match=r"missing input\(s\) \['flows'\]"):
        model(inputs)
    inputs = model_inputs(2, 32)
    inputs["frames"] = inputs["frames"][:, :, 0]
    with pytest.raises(ValueError, match=r"'frames' must be \(B, 3, T, H, W\)"):
        model(inputs)
    with pytest.raises(ValueError, match="input_size"):
        create_model("attr_contrastive", input_size=8)
    with pytest.raises(ValueError, match="dropout"):
        create_model("attr_contrastive", dropout=1.0)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        create_model("attr_contrastive", temperature=0.1)


def test_the_model_is_small() -> None:
    model = create_model("attr_contrastive")
    n_params = sum(p.numel() for p in model.parameters())
    head = sum(p.numel() for p in model.projection.parameters())
    assert n_params < 300_000
    assert head == 128 * 384 + 384  # one linear map into the text space
