"""The meta_auxiliary trainer: episodes, the alignment loss, determinism, ablations, learning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from mer.evaluation.folds import loso_folds
from mer.training import FeatureSet, TrainConfig
from mer.training import meta_auxiliary as ma
from mer.training.loso import FoldResult
from mer.training.meta_auxiliary import (
    alignment_loss,
    class_prototypes,
    sample_episode,
)
from mer.training.registry import get_trainer, resolve_options

HPARAMS: dict[str, Any] = {"input_size": 16, "widths": (8, 8, 16), "embed_dim": 16}
CONFIG = TrainConfig(device="cpu", seed=0)
FAST: dict[str, Any] = {"episodes": 12, "n_support": 2, "n_query": 2}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """One intra-op thread: the 16 x 16 toy tensors are too small to share, and on a busy
    2-core machine two threads per op wait on each other (20x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy() -> FeatureSet:
    from mer.training.toy import toy_features
    return toy_features(n_subjects=5, clips_per_subject=9, size=16, signal=1.0, seed=0)


@pytest.fixture(scope="module")
def macro() -> FeatureSet:
    from mer.training.toy import toy_features
    return toy_features(n_subjects=2, clips_per_subject=6, size=16, signal=2.0, seed=1)


def _run(data: FeatureSet, macro: FeatureSet | None, fold_index: int = 0,
         config: TrainConfig = CONFIG, **options: Any) -> FoldResult:
    fold = loso_folds(sorted(set(data.subjects)), n_val_subjects=1, seed=0)[fold_index]
    settings = resolve_options("meta_auxiliary", {**FAST, **options})
    return get_trainer("meta_auxiliary")("lightman", HPARAMS, config, data, fold,
                                         init_state=None, macro=macro, options=settings,
                                         progress=False)


def test_episodes_are_class_balanced_and_disjoint() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 1)
    support, query = sample_episode(labels, np.arange(14), 4, 4, np.random.default_rng(0))
    assert np.bincount(labels[support], minlength=3).tolist() == [4, 2, 1]
    assert np.bincount(labels[query], minlength=3).tolist() == [4, 1, 0]
    assert not set(support) & set(query)


def test_episodes_draw_only_the_training_subjects(toy: FeatureSet, macro: FeatureSet,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[np.ndarray] = []

    def spy(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        support, query = sample_episode(*args, **kwargs)
        drawn.extend([support, query])
        return support, query

    monkeypatch.setattr(ma, "sample_episode", spy)
    fold = loso_folds(sorted(set(toy.subjects)), n_val_subjects=1, seed=0)[1]
    result = _run(toy, macro, fold_index=1)
    assert len(drawn) == 2 * FAST["episodes"]
    subjects = set(toy.subjects[np.concatenate(drawn)])
    assert subjects <= set(fold.train_subjects)
    assert set(toy.subjects[result.test_indices]) == {fold.test_subject}
    assert set(toy.subjects[result.val_indices]) == set(fold.val_subjects)


def test_alignment_uses_only_macro_clips_of_the_same_class() -> None:
    generator = torch.Generator().manual_seed(0)
    macro_z = torch.randn(9, 5, generator=generator)
    macro_y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    aligned = torch.randn(4, 5, generator=generator)
    micro_y = torch.tensor([1, 1, 1, 1])
    loss = alignment_loss(aligned, micro_y, *class_prototypes(macro_z, macro_y))
    other = macro_z.clone()
    other[macro_y != 1] = torch.randn(6, 5, generator=generator)  # other emotions changed
    assert torch.equal(loss, alignment_loss(aligned, micro_y, *class_prototypes(other, macro_y)))
    same = macro_z.clone()
    same[3] += 1.0  # one clip of the same emotion changed
    assert not torch.equal(loss, alignment_loss(aligned, micro_y, *class_prototypes(same,
                                                                                     macro_y)))
    # Aligned exactly onto its prototype: zero loss.
    prototypes, present = class_prototypes(macro_z, macro_y)
    assert float(alignment_loss(prototypes[micro_y] * 3.0, micro_y, prototypes, present)) < 1e-6


def test_a_class_without_macro_clips_adds_no_alignment_loss() -> None:
    prototypes, present = class_prototypes(torch.randn(2, 4), torch.tensor([0, 0]))
    assert present.tolist() == [True, False, False]
    aligned = torch.randn(2, 4, requires_grad=True)
    loss = alignment_loss(aligned, torch.tensor([2, 1]), prototypes, present)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.equal(aligned.grad, torch.zeros(2, 4))


def test_same_seed_gives_the_same_probabilities(toy: FeatureSet, macro: FeatureSet) -> None:
    torch.manual_seed(99)  # the global RNG must not matter
    first = _run(toy, macro)
    second = _run(toy, macro)
    assert np.array_equal(first.probs, second.probs)
    assert first.history == second.history
    other = _run(toy, macro, config=TrainConfig(device="cpu", seed=1))
    assert not np.array_equal(first.probs, other.probs)


@pytest.mark.parametrize("options", [{"meta": False}, {"use_aux": False},
                                     {"meta": False, "use_aux": False}, {"second_order": True},
                                     {"inner_steps": 2, "second_order": True}])
def test_ablations_and_second_order_run_and_differ_from_full(
        toy: FeatureSet, macro: FeatureSet, options: dict[str, Any]) -> None:
    full = _run(toy, macro)
    variant = _run(toy, None if options.get("use_aux") is False else macro, **options)
    assert variant.probs.shape == full.probs.shape
    assert np.allclose(variant.probs.sum(axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(variant.probs, full.probs)
    assert {"episode", "train_loss", "aux_loss", "val_accuracy"} <= set(variant.history[-1])


def test_beats_chance_on_a_toy_set(toy: FeatureSet, macro: FeatureSet) -> None:
    correct, total = 0, 0
    for index in (0, 2):
        result = _run(toy, macro, fold_index=index, episodes=60)
        correct += int((result.probs.argmax(axis=1)
                        == toy.labels[result.test_indices].numpy()).sum())
        total += len(result.test_indices)
    assert correct / total > 0.6  # chance is 1/3


def test_options_are_checked(toy: FeatureSet, macro: FeatureSet) -> None:
    with pytest.raises(ValueError, match="epochs: Extra inputs are not permitted"):
        resolve_options("meta_auxiliary", {"epochs": 3})
    with pytest.raises(ValueError, match="inner_lr: Input should be greater than 0"):
        resolve_options("meta_auxiliary", {"inner_lr": 0.0})
    with pytest.raises(ValueError, match="macro-expression clips"):
        _run(toy, None)
    fold = loso_folds(sorted(set(toy.subjects)), n_val_subjects=1, seed=0)[0]
    with pytest.raises(ValueError, match="auxiliary alignment head"):
        get_trainer("meta_auxiliary")("ststnet", {}, CONFIG, toy, fold, init_state=None,
                                      macro=macro, options=resolve_options("meta_auxiliary", FAST),
                                      progress=False)
