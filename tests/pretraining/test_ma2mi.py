"""MA2MI: it learns on a toy sequence, it is deterministic, and its state loads into MIACNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer.models import create_model
from mer.models.miacnet import PRETRAINED_PREFIXES
from mer.pretraining import MA2MIConfig, complete_state, prepare_clips, pretrain
from mer.pretraining.ma2mi import MA2MINet, reconstruction_loss, sample_triplets
from mer.training import FeatureSet, TrainConfig, fit

SMALL = {"input_size": 32, "widths": (8, 16)}


def _frames(toy_clips: list[np.ndarray]) -> list[torch.Tensor]:
    return prepare_clips(toy_clips, 32)


def test_reconstruction_loss_falls_below_copying(toy_clips: list[np.ndarray]) -> None:
    config = MA2MIConfig(epochs=25, batch_size=16, lr=1e-2, samples_per_clip=8, max_step=2,
                         hflip=False, seed=0)
    result = pretrain(_frames(toy_clips), create_model("miacnet", **SMALL), config)
    first, last = result.history[0], result.history[-1]
    assert [h["epoch"] for h in result.history] == list(range(1, 26))
    assert last["loss"] < 0.6 * first["loss"]
    assert last["l1"] < 0.8 * last["copy_l1"]  # predicts motion, not just "nothing moves"


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


def test_triplets_stay_inside_each_clip() -> None:
    rows = sample_triplets([3, 5, 40], samples_per_clip=50, max_step=4,
                           rng=np.random.default_rng(0))
    lengths = np.array([3, 5, 40])[rows[:, 0]]
    k = rows[:, 2] - rows[:, 1]
    assert (rows[:, 1] >= 0).all() and (rows[:, 3] < lengths).all()
    assert (rows[:, 3] - rows[:, 2] == k).all() and (k >= 1).all() and (k <= 4).all()
    assert (k[rows[:, 0] == 0] == 1).all() and k[rows[:, 0] == 2].max() == 4


def test_decoder_starts_from_nothing_moves() -> None:
    torch.manual_seed(0)
    net = MA2MINet((8, 16)).eval()
    net.reset_parameters()
    before, now = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    assert torch.equal(net(before, now), now)
    assert float(reconstruction_loss(now, now, 0.5)) == 0.0


def test_bad_clips_are_named() -> None:
    with pytest.raises(ValueError, match="ck/S1/c2: MA2MI needs"):
        prepare_clips([np.zeros((4, 8, 8), np.uint8), np.zeros((2, 8, 8), np.uint8)], 32,
                      names=["ck/S1/c1", "ck/S1/c2"])
    with pytest.raises(ValueError, match="no macro-expression clip"):
        pretrain([], create_model("miacnet", **SMALL), MA2MIConfig())
    with pytest.raises(ValueError, match="samples_per_clip\n  Input should be greater than or e"):
        MA2MIConfig(samples_per_clip=0)
