"""Trainer `contrastive`: the symmetric InfoNCE, lambda 0 = plain CE, determinism, checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mer.evaluation.folds import Fold
from mer.models import create_model
from mer.training import FeatureSet, TrainConfig, run_fold
from mer.training.augment import augment
from mer.training.contrastive import ContrastiveOptions, fit_contrastive, symmetric_info_nce
from mer.training.toy import toy_features
from mer.training.registry import get_trainer, resolve_options

HPARAMS = {"input_size": 32, "widths": (8, 16), "embed_dim": 16, "text_dim": 12}
CONFIG = TrainConfig(epochs=2, batch_size=12, lr=1e-2, device="cpu", seed=3)


FOLD = Fold(0, "toy/s00", ("toy/s01", "toy/s02"), ("toy/s03",))


def _with_text(data: FeatureSet, *, missing_every: int = 4, dim: int = 12) -> FeatureSet:
    """Add au_text: one unit vector per class (so text agrees with the label); some rows zero."""
    generator = torch.Generator().manual_seed(1)
    per_class = F.normalize(torch.randn(3, dim, generator=generator), dim=1)
    text = per_class[data.labels].clone()
    text[::missing_every] = 0.0
    mirrored = text.flip(1).contiguous()  # any other unit vectors will do for the mirrored side
    return FeatureSet(inputs={**data.inputs, "au_text": text, "au_text_mirrored": mirrored},
                      labels=data.labels, subjects=data.subjects, clips=data.clips)


@pytest.fixture(scope="module")
def toy() -> FeatureSet:
    """4 subjects x 9 clips of 32 x 32 with AU-text rows."""
    return _with_text(toy_features(n_subjects=4, clips_per_subject=9, size=32, signal=0.5))


def _bytes(state: dict[str, torch.Tensor]) -> dict[str, bytes]:
    return {key: value.numpy().tobytes() for key, value in state.items()}


def _run(data: FeatureSet, options: dict, config: TrainConfig = CONFIG):  # noqa: ANN202
    return get_trainer("contrastive")("attr_contrastive", HPARAMS, config, data, FOLD,
                                      init_state=None, macro=None,
                                      options=resolve_options("contrastive", options),
                                      progress=False)


# --- the loss -------------------------------------------------------------------------------

def _unit(n: int, d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_info_nce_is_symmetric() -> None:
    visual, text = _unit(6, 8, 0), _unit(6, 8, 1)
    assert torch.allclose(symmetric_info_nce(visual, text, 0.1),
                          symmetric_info_nce(text, visual, 0.1))


def test_info_nce_is_lowest_when_the_pairs_match() -> None:
    text = _unit(6, 8, 1)
    matched = symmetric_info_nce(text, text, 0.1)
    noisy = symmetric_info_nce(F.normalize(text + 0.3 * _unit(6, 8, 2), dim=1), text, 0.1)
    for shift in range(1, 6):
        shuffled = symmetric_info_nce(text.roll(shift, dims=0), text, 0.1)
        assert matched < noisy < shuffled
    assert float(matched) < 0.01


def test_clips_sharing_a_description_are_not_negatives() -> None:
    text = _unit(3, 8, 1)[[0, 0, 1, 2]]  # clips 0 and 1 share a description
    visual = text.clone()
    swapped = visual[[1, 0, 2, 3]]  # exchanging the two is no worse
    assert torch.allclose(symmetric_info_nce(visual, text, 0.1),
                          symmetric_info_nce(swapped, text, 0.1))
    # With one-hot targets the pair would be pushed apart; with co-positives the matched loss
    # is the entropy of the uniform target over the pair: 2 of the 4 rows have log 2.
    assert symmetric_info_nce(visual, text, 0.01) == pytest.approx(0.5 * np.log(2), abs=1e-4)


def test_info_nce_needs_two_clips_and_equal_shapes() -> None:
    one = _unit(1, 8, 0).requires_grad_()
    loss = symmetric_info_nce(one, _unit(1, 8, 1), 0.1)
    assert float(loss.detach()) == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match="same"):
        symmetric_info_nce(_unit(3, 8, 0), _unit(3, 4, 0), 0.1)


# --- the trainer ----------------------------------------------------------------------------

def test_lambda_zero_is_plain_cross_entropy(toy: FeatureSet) -> None:
    ablation = _run(toy, {"lambda": 0})
    supervised = run_fold("attr_contrastive", HPARAMS, CONFIG, toy, FOLD)
    assert _bytes(ablation.state_dict) == _bytes(supervised.state_dict)
    assert np.array_equal(ablation.probs, supervised.probs)
    assert ablation.history == supervised.history
    # ... and it needs no AU text at all.
    images = {key: x for key, x in toy.inputs.items() if not key.startswith("au_text")}
    bare = FeatureSet(inputs=images, labels=toy.labels, subjects=toy.subjects, clips=toy.clips)
    assert np.array_equal(_run(bare, {"lambda": 0}).probs, ablation.probs)


def test_the_contrastive_term_changes_training_and_is_deterministic(toy: FeatureSet) -> None:
    first = _run(toy, {"lambda": 1.0, "temperature": 0.2})
    torch.manual_seed(99)  # the global RNG must not matter
    second = _run(toy, {"lambda": 1.0, "temperature": 0.2})
    assert _bytes(first.state_dict) == _bytes(second.state_dict)
    assert np.array_equal(first.probs, second.probs)
    assert "train_contrastive" in first.history[-1]
    ablation = _run(toy, {"lambda": 0})
    assert not np.array_equal(first.probs, ablation.probs)
    assert first.probs.shape == (9, 3) and np.allclose(first.probs.sum(axis=1), 1.0, atol=1e-5)


def test_clips_without_text_are_left_out_of_the_term(toy: FeatureSet) -> None:
    # All rows missing: the contrastive term is 0 and the classifier trains as with lambda 0.
    zeros = {"au_text": torch.zeros_like(toy.inputs["au_text"]),
             "au_text_mirrored": torch.zeros_like(toy.inputs["au_text"])}
    silent = FeatureSet(inputs={**toy.inputs, **zeros}, labels=toy.labels,
                        subjects=toy.subjects, clips=toy.clips)
    result = _run(silent, {"lambda": 1.0})
    assert np.array_equal(result.probs, _run(toy, {"lambda": 0}).probs)
    assert all(record["train_contrastive"] == 0.0 for record in result.history)


def test_the_visual_projection_moves_toward_its_text(toy: FeatureSet) -> None:
    train = toy.subset(toy.subject_indices(["toy/s01", "toy/s02", "toy/s03"]))
    config = TrainConfig(epochs=10, batch_size=12, lr=1e-2, device="cpu", seed=0)
    result = fit_contrastive(create_model("attr_contrastive", **HPARAMS), train, config,
                             ContrastiveOptions(lambda_=1.0, temperature=0.2))
    losses = [record["train_contrastive"] for record in result.history]
    assert losses[-1] < 0.75 * losses[0]


def test_augment_names_the_clips_it_mirrored() -> None:
    ramp = torch.linspace(0.0, 1.0, 20).expand(16, 1, 20, 20).contiguous()
    rng = np.random.default_rng(5)
    expected = copy.deepcopy(rng).random(16) < 0.5  # augment's first draw: the mirror mask
    out, mirrored = augment({"apex": ramp}, rng, flip=True, max_shift=0.2)
    runs_backwards = (out["apex"][:, 0, :, 0] > out["apex"][:, 0, :, -1]).any(dim=1).numpy()
    assert mirrored.tolist() == expected.tolist() == runs_backwards.tolist()
    assert 0 < mirrored.sum() < 16
    _, none = augment({"apex": ramp}, np.random.default_rng(5), flip=False, max_shift=0.2)
    assert not none.any()


@pytest.mark.parametrize(
    ("options", "change", "message"),
    [
        ({"lambda": 0.5, "tau": 0.1}, None, "tau: Extra inputs are not permitted"),
        ({"lambda": -1}, None, "lambda: Input should be greater than or equal to 0"),
        ({"temperature": 0}, None, "temperature: Input should be greater than 0"),
        ({"lambda": 0.5}, "no_text", r"no input\(s\) \['au_text', 'au_text_mirrored'\]"),
        ({"lambda": 0.5}, "no_mirror", r"no input\(s\) \['au_text_mirrored'\].*hflip false"),
        ({"lambda": 0.5}, "wide_text", "13 columns but .* text_dim=12"),
    ],
)
def test_bad_options_and_inputs_are_named(toy: FeatureSet, options: dict, change: str | None,
                                          message: str) -> None:
    inputs = dict(toy.inputs)
    if change == "no_text":
        inputs = {k: v for k, v in inputs.items() if not k.startswith("au_text")}
    elif change == "no_mirror":
        del inputs["au_text_mirrored"]
    elif change == "wide_text":
        inputs["au_text"] = torch.ones(len(toy), 13)
    data = FeatureSet(inputs=inputs, labels=toy.labels, subjects=toy.subjects, clips=toy.clips)
    with pytest.raises(ValueError, match=message):
        _run(data, options)


def test_feature_set_accepts_per_clip_vectors_only_as_known_keys() -> None:
    data = toy_features(n_subjects=2, clips_per_subject=3, size=8)
    with pytest.raises(ValueError, match=r"'au_text' must be a float32 tensor \(6, D\)"):
        FeatureSet(inputs={**data.inputs, "au_text": torch.zeros(6, 4, 1)}, labels=data.labels,
                   subjects=data.subjects, clips=data.clips)
    with pytest.raises(ValueError, match="no image input"):
        FeatureSet(inputs={"au_text": torch.zeros(6, 4)}, labels=data.labels,
                   subjects=data.subjects, clips=data.clips)
    kept = FeatureSet(inputs={**data.inputs, "au_text": torch.arange(24.0).view(6, 4)},
                      labels=data.labels, subjects=data.subjects, clips=data.clips).subset([4, 1])
    assert kept.inputs["au_text"][:, 0].tolist() == [16.0, 4.0]
