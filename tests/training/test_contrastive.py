"""Trainer `contrastive`: the AU-overlap InfoNCE over the fold's bank of texts, the within-class
shuffle control, lambda 0 = plain CE, determinism, checks."""

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
from mer.training.contrastive import (
    Codings,
    ContrastiveOptions,
    fit_contrastive,
    jaccard_matrix,
    overlap_info_nce,
    shuffle_within_class,
)
from mer.training.toy import toy_features
from mer.training.registry import get_trainer, resolve_options

HPARAMS = {"input_size": 32, "widths": (8, 16), "embed_dim": 16, "text_dim": 12}
CONFIG = TrainConfig(epochs=2, batch_size=12, lr=1e-2, device="cpu", seed=3)


FOLD = Fold(0, "toy/s00", ("toy/s01", "toy/s02"), ("toy/s03",))


#: Toy AU sets (6 columns) per class; the mirrored face's sets are the other 3 columns.
CLASS_SETS = torch.tensor([[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0]],
                          dtype=torch.float32)


def _with_text(data: FeatureSet, *, missing_every: int = 4, dim: int = 12) -> FeatureSet:
    """Add the codings: one text and one AU set per class (so they agree with the label); every
    ``missing_every``-th clip uncoded (zeros)."""
    generator = torch.Generator().manual_seed(1)
    per_class = F.normalize(torch.randn(3, dim, generator=generator), dim=1)
    text = per_class[data.labels].clone()
    sets = CLASS_SETS[data.labels].clone()
    text[::missing_every] = 0.0
    sets[::missing_every] = 0.0
    mirrored = text.flip(1).contiguous()  # any other unit vectors will do for the mirrored side
    inputs = {**data.inputs, "au_text": text, "au_text_mirrored": mirrored, "au_set": sets,
              "au_set_mirrored": sets.roll(3, dims=1).contiguous()}
    return FeatureSet(inputs=inputs, labels=data.labels, subjects=data.subjects, clips=data.clips)


@pytest.fixture(scope="module")
def toy() -> FeatureSet:
    """4 subjects x 9 clips of 32 x 32 (and 4-frame sequences) with AU-text rows."""
    return _with_text(toy_features(n_subjects=4, clips_per_subject=9, size=32, signal=0.5,
                                   sequence_frames=4))


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


def test_jaccard_matrix() -> None:
    a = torch.tensor([[1.0, 1, 0], [0, 0, 0]])
    b = torch.tensor([[1.0, 0, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    expected = torch.tensor([[0.5, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert torch.equal(jaccard_matrix(a, b), expected)


def test_overlap_info_nce_is_lowest_on_the_own_text() -> None:
    bank = _unit(6, 8, 1)
    own = torch.eye(6)
    matched = overlap_info_nce(bank, bank, own, 0.1)
    assert float(matched) < 0.01
    for shift in range(1, 6):
        assert matched < overlap_info_nce(bank.roll(shift, dims=0), bank, own, 0.1)


def test_texts_that_overlap_fully_are_not_negatives() -> None:
    bank = _unit(4, 8, 2)
    weights = torch.tensor([[1.0, 1.0, 0.0, 0.0]])  # two descriptions of the same AU set
    between = F.normalize(bank[[0]] + bank[[1]], dim=1)
    # One-hot targets would reward sitting on text 0; overlap targets reward both texts alike.
    assert overlap_info_nce(between, bank, weights, 0.1) < overlap_info_nce(bank[[0]], bank,
                                                                            weights, 0.1)
    assert torch.allclose(overlap_info_nce(bank[[0]], bank[:2], weights[:, :2], 0.1),
                          overlap_info_nce(bank[[1]], bank[:2], weights[:, :2], 0.1))
    # A partial overlap (Jaccard 0.5) pulls half as much as the own text.
    partial = torch.tensor([[1.0, 0.5, 0.0, 0.0]])
    probs = F.softmax(bank[[0]] @ bank.T / 0.1, dim=1)
    expected = -(partial / 1.5 * probs.log()).sum()
    assert overlap_info_nce(bank[[0]], bank, partial, 0.1) == pytest.approx(float(expected))


def test_overlap_info_nce_checks_shapes_and_positives() -> None:
    with pytest.raises(ValueError, match=r"must be \(B, D\), \(K, D\) and \(B, K\)"):
        overlap_info_nce(_unit(2, 8, 0), _unit(3, 8, 1), torch.ones(2, 2), 0.1)
    with pytest.raises(ValueError, match="overlaps no text of the bank"):
        overlap_info_nce(_unit(2, 8, 0), _unit(3, 8, 1), torch.tensor([[1.0, 0, 0], [0, 0, 0]]),
                         0.1)


def test_the_bank_holds_every_distinct_coded_text_written_and_mirrored(toy: FeatureSet) -> None:
    inputs = toy.inputs
    codings = Codings(texts=(inputs["au_text"], inputs["au_text_mirrored"]),
                      sets=(inputs["au_set"], inputs["au_set_mirrored"]))
    texts, sets = codings.bank()
    assert texts.shape == (6, 12) and sets.shape == (6, 6)  # 3 classes x (written, mirrored)
    assert bool((sets.sum(dim=1) > 0).all()) and bool((texts.norm(dim=1) > 0.99).all())
    expected = {tuple(r) for r in torch.cat([CLASS_SETS, CLASS_SETS.roll(3, dims=1)]).tolist()}
    assert {tuple(r) for r in sets.tolist()} == expected


def test_the_shuffle_stays_within_class_and_leaves_uncoded_clips() -> None:
    labels = torch.tensor([0, 1, 0, 2, 0, 1, 0, 2, 1, 0])
    coded = torch.tensor([True] * 9 + [False])
    order = shuffle_within_class(labels, coded, seed=4)
    assert sorted(order.tolist()) == list(range(10))
    assert torch.equal(labels[order], labels)
    assert int(order[9]) == 9
    assert not torch.equal(order, torch.arange(10))
    assert torch.equal(order, shuffle_within_class(labels, coded, seed=4))
    assert not torch.equal(order, shuffle_within_class(labels, coded, seed=5))


# --- the trainer ----------------------------------------------------------------------------

def test_lambda_zero_is_plain_cross_entropy(toy: FeatureSet) -> None:
    ablation = _run(toy, {"lambda": 0})
    supervised = run_fold("attr_contrastive", HPARAMS, CONFIG, toy, FOLD)
    assert _bytes(ablation.state_dict) == _bytes(supervised.state_dict)
    assert np.array_equal(ablation.probs, supervised.probs)
    assert ablation.history == supervised.history
    # ... and it needs no AU text at all.
    images = {key: x for key, x in toy.inputs.items() if not key.startswith("au_")}
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
    zeros = {key: torch.zeros_like(x) for key, x in toy.inputs.items() if key.startswith("au_")}
    silent = FeatureSet(inputs={**toy.inputs, **zeros}, labels=toy.labels,
                        subjects=toy.subjects, clips=toy.clips)
    result = _run(silent, {"lambda": 1.0})
    assert np.array_equal(result.probs, _run(toy, {"lambda": 0}).probs)
    assert all(record["train_contrastive"] == 0.0 for record in result.history)


def test_the_shuffled_control_trains_differently_and_deterministically(toy: FeatureSet) -> None:
    # Codings that differ within a class (clip i: AU column i mod 6), so a shuffle has an effect.
    n = len(toy)
    sets = torch.eye(6)[torch.arange(n) % 6]
    text = F.normalize(sets @ _unit(6, 12, 7), dim=1)
    inputs = {**toy.inputs, "au_text": text, "au_text_mirrored": text, "au_set": sets,
              "au_set_mirrored": sets}
    varied = FeatureSet(inputs=inputs, labels=toy.labels, subjects=toy.subjects, clips=toy.clips)
    options = {"lambda": 1.0, "temperature": 0.2, "shuffle_texts": "within_class"}
    shuffled = _run(varied, options)
    assert np.array_equal(shuffled.probs, _run(varied, options).probs)
    plain = _run(varied, {"lambda": 1.0, "temperature": 0.2})
    assert not np.array_equal(shuffled.probs, plain.probs)


def test_a_lone_coded_clip_still_meets_every_text_of_the_fold(toy: FeatureSet) -> None:
    # Batches of one: the in-batch loss had no negatives; the bank gives the fold's 6 texts.
    config = TrainConfig(epochs=1, batch_size=1, lr=1e-2, device="cpu", seed=0)
    train = toy.subset(toy.subject_indices(["toy/s01"]))
    result = fit_contrastive(create_model("attr_contrastive", **HPARAMS), train, config,
                             ContrastiveOptions(lambda_=1.0, temperature=0.2))
    assert result.history[0]["train_contrastive"] > 0.1


def test_the_visual_projection_moves_toward_its_text(toy: FeatureSet) -> None:
    train = toy.subset(toy.subject_indices(["toy/s01", "toy/s02", "toy/s03"]))
    config = TrainConfig(epochs=10, batch_size=12, lr=1e-2, device="cpu", seed=0)
    result = fit_contrastive(create_model("attr_contrastive", **HPARAMS), train, config,
                             ContrastiveOptions(lambda_=1.0, temperature=0.2))
    losses = [record["train_contrastive"] for record in result.history]
    assert max(losses[-3:]) < 0.8 * losses[0]


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
        ({"lambda": 0.5}, "no_text",
         r"no input\(s\) \['au_text', 'au_text_mirrored', 'au_set', 'au_set_mirrored'\]"),
        ({"lambda": 0.5}, "no_mirror", r"no input\(s\) \['au_set_mirrored'\]"),
        ({"lambda": 0.5, "shuffle_texts": "across"}, None, "shuffle_texts: Input should be"),
        ({"lambda": 0.5}, "wide_text", "13 columns but .* text_dim=12"),
    ],
)
def test_bad_options_and_inputs_are_named(toy: FeatureSet, options: dict, change: str | None,
                                          message: str) -> None:
    inputs = dict(toy.inputs)
    if change == "no_text":
        inputs = {k: v for k, v in inputs.items() if not k.startswith("au_")}
    elif change == "no_mirror":
        del inputs["au_set_mirrored"]
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
