"""MA2MI: it learns on a toy sequence (also on clips it never saw), it is deterministic, its code
is a bottleneck, and its state loads into MIACNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer.models import create_model
from mer.models.miacnet import PRETRAINED_PREFIXES
from mer.pretraining import MA2MIConfig, complete_state, prepare_clips, pretrain
from mer.pretraining.ma2mi import (
    MA2MINet,
    held_out_error,
    held_out_subjects,
    reconstruction_loss,
    sample_pairs,
    warp,
)
from mer.training import FeatureSet, TrainConfig, fit

SMALL = {"input_size": 32, "widths": (8, 16)}


def _frames(toy_clips: list[np.ndarray]) -> list[torch.Tensor]:
    return prepare_clips(toy_clips, 32)


def test_reconstruction_falls_below_copying_also_on_unseen_clips(
        toy_clips: list[np.ndarray], blob_clip) -> None:
    config = MA2MIConfig(epochs=25, batch_size=16, lr=1e-2, samples_per_clip=8, hflip=False,
                         seed=0)
    result = pretrain(_frames(toy_clips), create_model("miacnet", **SMALL), config)
    first, last = result.history[0], result.history[-1]
    assert [h["epoch"] for h in result.history] == list(range(1, 26))
    assert last["loss"] < 0.6 * first["loss"]
    assert last["l1"] < 0.85 * last["copy_l1"]  # predicts motion, not just "nothing moves"
    unseen = prepare_clips([blob_clip(seed=s) for s in (20, 21)], 32)
    measured = held_out_error(result.net, unseen, config, seed=0)
    assert measured["n_pairs"] == 16
    assert measured["ratio"] == pytest.approx(measured["l1"] / measured["copy_l1"])
    assert measured["ratio"] < 0.9


def test_same_seed_gives_the_same_state_bytes(toy_clips: list[np.ndarray]) -> None:
    config = MA2MIConfig(epochs=2, batch_size=8, samples_per_clip=2, seed=3)
    model = create_model("miacnet", **SMALL)
    state_before = torch.get_rng_state()
    a = pretrain(_frames(toy_clips), model, config).state_dict
    assert torch.equal(torch.get_rng_state(), state_before)
    b = pretrain(_frames(toy_clips), model, config).state_dict
    other_seed = MA2MIConfig(**{**config.model_dump(), "seed": 4})
    c = pretrain(_frames(toy_clips), model, other_seed).state_dict
    assert {k: v.numpy().tobytes() for k, v in a.items()} == \
        {k: v.numpy().tobytes() for k, v in b.items()}
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_state_is_in_miacnet_key_space_and_loads_through_fit(toy_clips: list[np.ndarray]) -> None:
    model = create_model("miacnet", **SMALL)
    partial = pretrain(_frames(toy_clips), model,
                       MA2MIConfig(epochs=1, samples_per_clip=2)).state_dict
    assert partial and all(k.startswith(PRETRAINED_PREFIXES) for k in partial)
    assert {k.split(".")[0] for k in partial} == {"position", "action", "gate"}
    full = complete_state(model, partial, seed=0)
    assert set(full) == set(model.state_dict())
    generator = torch.Generator().manual_seed(0)
    data = FeatureSet(
        inputs={"flow": torch.randn(6, 3, 32, 32, generator=generator),
                "apex": torch.rand(6, 1, 32, 32, generator=generator),
                "onset": torch.rand(6, 1, 32, 32, generator=generator)},
        labels=torch.tensor([0, 1, 2, 0, 1, 2]),
        subjects=np.array(["a/1"] * 6, dtype=object), clips=np.array(list("abcdef"), dtype=object))
    config = TrainConfig(epochs=1, batch_size=6, device="cpu", seed=0)
    tuned = fit(create_model("miacnet", **SMALL), data, config, init_state=full).state_dict
    scratch = fit(create_model("miacnet", **SMALL), data, config).state_dict
    # the init matches scratch apart from the pretrained keys: after one step the classifier
    # differs only through the features, and a non-pretrained key's initial value is shared
    assert not torch.equal(tuned["action.stem.0.weight"], scratch["action.stem.0.weight"])
    torch.manual_seed(0)
    reference = create_model("miacnet", **SMALL)
    torch.manual_seed(0)
    reference.reset_parameters()
    assert torch.equal(full["classifier.1.weight"], reference.state_dict()["classifier.1.weight"])
    assert torch.equal(full["action.stem.0.weight"], partial["action.stem.0.weight"])


def test_partial_state_of_other_hparams_is_refused(toy_clips: list[np.ndarray]) -> None:
    partial = pretrain(_frames(toy_clips), create_model("miacnet", **SMALL),
                       MA2MIConfig(epochs=1, samples_per_clip=1)).state_dict
    with pytest.raises(ValueError, match="shape mismatches"):
        complete_state(create_model("miacnet", input_size=32, widths=(4, 16)), partial, seed=0)
    with pytest.raises(ValueError, match="unexpected keys"):
        complete_state(create_model("miacnet", **SMALL), {"nope.weight": torch.zeros(1)}, seed=0)


def test_pairs_stay_inside_each_clip_and_go_both_ways() -> None:
    rows = sample_pairs([2, 5, 40], samples_per_clip=200, max_step=None,
                        rng=np.random.default_rng(0))
    lengths = np.array([2, 5, 40])[rows[:, 0]]
    span = np.abs(rows[:, 2] - rows[:, 1])
    assert (rows[:, 1:] >= 0).all() and (rows[:, 1:] < lengths[:, None]).all()
    assert (span >= 1).all() and (span <= lengths - 1).all()
    assert span[rows[:, 0] == 2].max() == 39  # up to the whole onset -> apex span
    assert 0.35 < float(np.mean(rows[:, 2] < rows[:, 1])) < 0.65  # backwards: apex -> rest
    capped = sample_pairs([40], 200, max_step=3, rng=np.random.default_rng(0))
    assert np.abs(capped[:, 2] - capped[:, 1]).max() == 3


def test_decoder_starts_from_nothing_moves_and_code_is_a_bottleneck() -> None:
    torch.manual_seed(0)
    net = MA2MINet((8, 16), code_dim=5).eval()
    net.reset_parameters()
    now, future = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    assert torch.allclose(net(now, future), now, atol=1e-5)
    assert float(reconstruction_loss(now, now, 0.5)) == 0.0
    position, code = net.encode(now, future)
    assert code.shape == (2, 5) and position.shape == (2, 16, 8, 8)


def test_warp_moves_by_the_displacement() -> None:
    frame = torch.zeros(1, 1, 8, 8)
    frame[..., 3, 3] = 1.0
    moved = warp(frame, torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 8, 8))
    assert float(moved[0, 0, 3, 2]) == pytest.approx(1.0)  # sampled from one pixel right
    assert torch.allclose(warp(frame, torch.zeros(1, 2, 8, 8)), frame, atol=1e-6)


def test_held_out_subjects_are_whole_subjects_and_leave_some_to_train() -> None:
    subjects = ["ck/S1"] * 3 + ["ck/S2"] * 2 + ["ck/S3"] * 4 + ["ck/S4"]
    held = held_out_subjects(subjects, 0.25, seed=0)
    assert held.dtype == bool and held.any() and not held.all()
    for subject in set(subjects):
        mask = np.asarray(subjects) == subject
        assert held[mask].all() or not held[mask].any()
    assert not held_out_subjects(["a", "b"], 0.9, seed=0).all()
    with pytest.raises(ValueError, match="at least 2"):
        held_out_subjects(["a", "a"], 0.2, seed=0)


def test_bad_clips_are_named() -> None:
    with pytest.raises(ValueError, match="ck/S1/c2: MA2MI needs"):
        prepare_clips([np.zeros((4, 8, 8), np.uint8), np.zeros((1, 8, 8), np.uint8)], 32,
                      names=["ck/S1/c1", "ck/S1/c2"])
    with pytest.raises(ValueError, match="no macro-expression clip"):
        pretrain([], create_model("miacnet", **SMALL), MA2MIConfig())
    with pytest.raises(ValueError, match="samples_per_clip\n  Input should be greater than or e"):
        MA2MIConfig(samples_per_clip=0)
