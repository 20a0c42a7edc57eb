"""The meta_auxiliary trainer: subject-disjoint episodes, per-sample micro-macro alignment whose
gradient reaches the encoder at both levels, determinism, ablations, any backbone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from mer.evaluation.folds import loso_folds
from mer.models.registry import create_model
from mer.training import FeatureSet, TrainConfig
from mer.training import meta_auxiliary as ma
from mer.training.alignment import MotionAligner, draw_partners, motion_maps
from mer.training.episodes import sample_episode, sample_pass, split_subjects
from mer.training.loso import FoldResult
from mer.training.registry import get_trainer, resolve_options

HPARAMS: dict[str, Any] = {"input_size": 16, "widths": (8, 8, 16), "embed_dim": 16}
CONFIG = TrainConfig(device="cpu", seed=0)
FAST: dict[str, Any] = {"episodes": 12, "n_support": 2, "n_query": 2, "grid": 8}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """One intra-op thread: the 16 x 16 toy tensors are too small to share."""
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
         config: TrainConfig = CONFIG, model: str = "lightman",
         hparams: dict[str, Any] = HPARAMS, **options: Any) -> FoldResult:
    fold = loso_folds(sorted(set(data.subjects)), n_val_subjects=1, seed=0)[fold_index]
    settings = resolve_options("meta_auxiliary", {**FAST, **options})
    return get_trainer("meta_auxiliary")(model, hparams, config, data, fold, init_state=None,
                                         macro=macro, options=settings, progress=False)


def test_episodes_are_class_balanced_from_disjoint_subjects() -> None:
    labels = np.tile([0, 0, 0, 1, 2], 6)
    subjects = np.repeat([f"s{i}" for i in range(6)], 5)
    pool = np.flatnonzero(subjects != "s5")
    rng = np.random.default_rng(0)
    for _ in range(20):
        support, query = sample_episode(labels, subjects, pool, 3, 2, rng)
        assert np.bincount(labels[support], minlength=3).tolist() == [3, 3, 3]
        assert np.bincount(labels[query], minlength=3).tolist() == [2, 2, 2]
        assert not set(subjects[support]) & set(subjects[query])
        assert set(support) | set(query) <= set(pool)


def test_a_pass_presents_every_clip_once_from_disjoint_subjects() -> None:
    labels = np.tile([0, 0, 0, 1, 2], 6)
    subjects = np.repeat([f"s{i}" for i in range(6)], 5)
    pool = np.flatnonzero(subjects != "s5")
    episodes = sample_pass(labels, subjects, pool, 1, 1, np.random.default_rng(0))
    supports = np.concatenate([support for support, _ in episodes])
    queries = np.concatenate([query for _, query in episodes])
    assert len(episodes) == 5  # 3 support subjects' 15 clips in chunks of 1 per class x 3
    assert sorted(np.concatenate([supports, queries]).tolist()) == pool.tolist()
    assert not set(subjects[supports]) & set(subjects[queries])
    assert all(len(support) and len(query) for support, query in episodes)


def test_a_pass_repeats_the_clips_of_a_short_side() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    subjects = np.array(["a"] * 9 + ["b"])
    episodes = sample_pass(labels, subjects, np.arange(10), 1, 1, np.random.default_rng(0))
    assert len(episodes) == 3
    sides = [np.concatenate([episode[i] for episode in episodes]) for i in (0, 1)]
    long, short = sorted(sides, key=len, reverse=True)
    assert sorted(long.tolist()) == list(range(9)) and short.tolist() == [9, 9, 9]


def test_a_single_subject_is_both_support_and_query() -> None:
    support, query = split_subjects(np.array(["a", "a"]), np.array([0, 1]),
                                    np.random.default_rng(0))
    assert support.all() and query.all()


def test_partners_share_the_emotion_and_are_drawn_per_sample() -> None:
    macro_labels = np.array([0, 0, 0, 1, 1, 1])
    labels = np.array([0, 1, 2, 0, 0, 0, 0, 0])
    partners = draw_partners(labels, macro_labels, np.random.default_rng(0))
    assert partners[2] == -1  # no macro clip of that emotion
    kept = partners >= 0
    assert (macro_labels[partners[kept]] == labels[kept]).all()
    assert len(set(partners[labels == 0].tolist())) > 1  # not one clip (or a mean) per class


def test_motion_maps_keep_the_pattern_not_the_amplitude() -> None:
    flow = torch.randn(3, 3, 32, 32)
    maps = motion_maps(flow, 8)
    assert maps.shape == (3, 2, 8, 8)
    assert torch.allclose(maps.pow(2).sum(dim=1).mean(dim=(1, 2)), torch.ones(3))
    assert torch.allclose(motion_maps(5.0 * flow, 8), maps, atol=1e-5)


def test_an_aligner_predicting_no_offset_leaves_the_map_unchanged() -> None:
    aligner = MotionAligner(embed_dim=4)
    with torch.no_grad():
        for layer in (aligner.affine, aligner.displacement):
            layer.weight.zero_()
            layer.bias.zero_()
    macro_maps = torch.randn(2, 2, 8, 8)
    warped = aligner.warp(torch.randn(2, 4), torch.randn(2, 4), macro_maps)
    assert torch.allclose(warped, macro_maps, atol=1e-5)
    loss = aligner(torch.randn(2, 4), torch.randn(2, 4), macro_maps, macro_maps)
    assert float(loss.detach().max()) < 1e-8


def _learner(toy: FeatureSet, macro: FeatureSet, **options: Any) -> ma.EpisodeLearner:
    model = create_model("lightman", **HPARAMS)
    train = np.flatnonzero(toy.subjects != "toy/s04")
    inputs = model.resize_inputs(toy.subset(train).inputs)
    model.norm.fit(inputs)
    settings = resolve_options("meta_auxiliary", {**FAST, **options})
    return ma.EpisodeLearner(model, toy, train, inputs, CONFIG, settings, macro,
                             torch.device("cpu"))


def _encoder_norm(loss: torch.Tensor, learner: ma.EpisodeLearner) -> float:
    encoder = [p for n, p in learner.net.named_parameters() if n.startswith("backbone.encoder")]
    grads = torch.autograd.grad(loss, encoder, allow_unused=True)
    return float(sum(g.norm() for g in grads if g is not None))


@pytest.mark.parametrize("second_order", [False, True])
def test_the_alignment_gradient_reaches_the_encoder_at_both_levels(
        toy: FeatureSet, macro: FeatureSet, second_order: bool) -> None:
    learner = _learner(toy, macro, second_order=second_order)
    support, query = sample_episode(learner.labels, learner.subjects, learner.train, 2, 2,
                                    np.random.default_rng(0))
    # Level one: the support's alignment loss at the meta weights.
    _, inner_aux, _ = learner.losses(dict(learner.net.named_parameters()),
                                     learner.local(support))
    assert _encoder_norm(inner_aux, learner) > 1e-6
    # Level two: the query's alignment loss at the adapted weights, back to the meta weights.
    fast, _ = learner.adapt(learner.local(support), create_graph=second_order)
    _, outer_aux, _ = learner.losses(fast, learner.local(query))
    assert _encoder_norm(outer_aux, learner) > 1e-6


def test_second_order_differs_from_first_order_in_the_meta_gradient(
        toy: FeatureSet, macro: FeatureSet) -> None:
    norms = []
    for second_order in (False, True):
        learner = _learner(toy, macro)
        rng = np.random.default_rng(0)
        learner.rng = np.random.default_rng(1)
        support, query = sample_episode(learner.labels, learner.subjects, learner.train, 2, 2,
                                        rng)
        fast, _ = learner.adapt(learner.local(support), create_graph=second_order)
        primary, _, _ = learner.losses(fast, learner.local(query))
        norms.append(_encoder_norm(primary, learner))
    assert norms[0] != pytest.approx(norms[1], rel=1e-6)


def test_outer_support_adds_the_support_gradient_at_the_meta_weights(
        toy: FeatureSet, macro: FeatureSet) -> None:
    applied: list[dict[str, torch.Tensor]] = []
    support_grads: list[dict[str, torch.Tensor]] = []
    for outer_support in (False, True):
        torch.manual_seed(0)  # the same weights and aligner for both
        learner = _learner(toy, macro, outer_support=outer_support)
        support, query = sample_episode(learner.labels, learner.subjects, learner.train, 2, 2,
                                        np.random.default_rng(0))
        adapt = learner.adapt

        def spy_adapt(*args: Any, adapt: Any = adapt, **kwargs: Any) -> Any:
            fast, grads = adapt(*args, **kwargs)
            support_grads.append(grads)
            return fast, grads

        learner.adapt = spy_adapt  # type: ignore[method-assign]
        learner.optimizer.step = lambda: applied.append(  # type: ignore[method-assign]
            {n: p.grad.clone() for n, p in learner.net.named_parameters() if p.grad is not None})
        learner.meta_step(learner.local(support), learner.local(query))
    without, with_support = applied
    assert set(support_grads[1]) <= set(with_support)
    for name, grad in with_support.items():
        expected = without.get(name, torch.zeros_like(grad)) + support_grads[1].get(
            name, torch.zeros_like(grad))
        torch.testing.assert_close(grad, expected)
    assert any(g.abs().sum() > 0 for g in support_grads[1].values())


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
    assert set(toy.subjects[np.concatenate(drawn)]) <= set(fold.train_subjects)
    assert set(toy.subjects[result.test_indices]) == {fold.test_subject}


def test_the_pass_sampler_presents_every_training_clip_each_pass(
        toy: FeatureSet, macro: FeatureSet, monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[list[tuple[np.ndarray, np.ndarray]]] = []

    def spy(*args: Any, **kwargs: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        passes.append(sample_pass(*args, **kwargs))
        return passes[-1]

    monkeypatch.setattr(ma, "sample_pass", spy)
    fold = loso_folds(sorted(set(toy.subjects)), n_val_subjects=1, seed=0)[0]
    result = _run(toy, macro, sampler="pass")
    train = np.sort(toy.subject_indices(fold.train_subjects))
    assert sum(len(episodes) for episodes in passes[:-1]) < FAST["episodes"]
    assert sum(len(episodes) for episodes in passes) >= FAST["episodes"]
    for episodes in passes:
        assert np.array_equal(np.sort(np.concatenate([np.concatenate(e) for e in episodes])),
                              train)
    assert not np.array_equal(result.probs, _run(toy, macro).probs)


def test_the_held_out_labels_are_never_used(toy: FeatureSet, macro: FeatureSet) -> None:
    first = _run(toy, macro)
    labels = toy.labels.clone()
    test = toy.subject_indices([first.test_subject])
    labels[test] = (labels[test] + 1) % 3
    other = FeatureSet(inputs=toy.inputs, labels=labels, subjects=toy.subjects, clips=toy.clips)
    assert np.array_equal(_run(other, macro).probs, first.probs)


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
    assert (variant.history[-1]["aux_loss"] == 0.0) == (options.get("use_aux") is False)


def test_trains_another_registered_backbone(toy: FeatureSet, macro: FeatureSet) -> None:
    hparams = {"input_size": 32, "widths": (4, 4, 8, 8)}
    result = _run(toy, macro, model="micro_attention", hparams=hparams, episodes=3)
    state = create_model("micro_attention", **hparams).state_dict()
    assert set(result.state_dict) == set(state)  # the backbone's weights, no aligner
    assert np.allclose(result.probs.sum(axis=1), 1.0, atol=1e-5)


def test_beats_chance_on_a_toy_set(toy: FeatureSet, macro: FeatureSet) -> None:
    correct, total = 0, 0
    for index in (0, 2):
        result = _run(toy, macro, fold_index=index, episodes=60)
        correct += int((result.probs.argmax(axis=1)
                        == toy.labels[result.test_indices].numpy()).sum())
        total += len(result.test_indices)
    assert correct / total > 0.6  # chance is 1/3


def test_options_and_macro_clips_are_checked(toy: FeatureSet) -> None:
    with pytest.raises(ValueError, match="epochs: Extra inputs are not permitted"):
        resolve_options("meta_auxiliary", {"epochs": 3})
    with pytest.raises(ValueError, match="inner_lr: Input should be greater than 0"):
        resolve_options("meta_auxiliary", {"inner_lr": 0.0})
    with pytest.raises(ValueError, match="macro-expression clips"):
        _run(toy, None)
    flow_only = FeatureSet(inputs={"flow": toy.inputs["flow"]}, labels=toy.labels,
                           subjects=toy.subjects, clips=toy.clips)
    with pytest.raises(ValueError, match="macro clips lack input 'apex'"):
        _run(toy, flow_only)
