"""Label noise and k-shot limits: exact rates, only training clips touched, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer.evaluation.folds import loso_folds
from mer.training.loso import FoldResult
from mer.training.robustness import (
    inject_label_noise,
    limit_shots,
    perturb_fold,
    restore_positions,
)
from mer.training.toy import toy_features


def _labels(n: int = 600, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, n)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 1.0])
def test_noise_corrupts_exactly_the_rate_of_the_given_indices(rate: float) -> None:
    labels = _labels()
    train = np.arange(0, 600, 2)  # even positions only
    noisy = inject_label_noise(labels, train, rate, seed=3)
    changed = np.flatnonzero(noisy != labels)
    assert len(changed) == round(rate * len(train))  # symmetric: a corrupted label is wrong
    assert set(changed) <= set(train)
    assert noisy.dtype == np.int64 and noisy.min() >= 0 and noisy.max() <= 2
    assert np.array_equal(labels, _labels())  # input not modified


def test_noise_is_symmetric_and_seeded() -> None:
    labels = np.zeros(30_000, dtype=np.int64)
    noisy = inject_label_noise(torch.from_numpy(labels), np.arange(30_000), 0.3, seed=1)
    counts = np.bincount(noisy, minlength=3)
    assert counts[0] == 21_000
    assert abs(counts[1] - counts[2]) < 400  # the wrong class is uniform over the others
    assert np.array_equal(noisy, inject_label_noise(labels, np.arange(30_000), 0.3, seed=1))
    assert not np.array_equal(noisy, inject_label_noise(labels, np.arange(30_000), 0.3, seed=2))


@pytest.mark.parametrize(("rate", "indices"), [(1.5, [0]), (0.1, [0, 0]), (0.1, [700])])
def test_noise_rejects_bad_arguments(rate: float, indices: list[int]) -> None:
    with pytest.raises(ValueError, match="inject_label_noise"):
        inject_label_noise(_labels(), indices, rate, seed=0)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_limit_shots_keeps_at_most_k_per_class_and_subject(k: int) -> None:
    labels = _labels(300)
    subjects = np.array([f"d/s{i % 7}" for i in range(300)], dtype=object)
    candidates = np.arange(0, 250)
    kept = limit_shots(labels, subjects, candidates, k, seed=0)
    assert set(kept) <= set(candidates) and np.all(np.diff(kept) > 0)
    for subject in set(subjects):
        for c in range(3):
            available = np.sum((subjects[candidates] == subject) & (labels[candidates] == c))
            got = np.sum((subjects[kept] == subject) & (labels[kept] == c))
            assert got == min(k, available)
    assert np.array_equal(kept, limit_shots(labels, subjects, candidates, k, seed=0))


def test_limit_shots_rejects_k_below_one() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        limit_shots([0, 1], ["a", "b"], [0, 1], 0, seed=0)


def test_perturb_fold_touches_only_training_clips_and_maps_back() -> None:
    data = toy_features(n_subjects=6, clips_per_subject=12, size=8)
    fold = loso_folds(sorted(set(data.subjects)), n_val_subjects=1, seed=0)[2]
    perturbed = perturb_fold(data, fold, label_noise=0.25, shots_per_class=2, seed=0)
    sub, back = perturbed.data, perturbed.positions
    is_train = np.isin(sub.subjects, fold.train_subjects)
    # Validation and test clips are all kept, labels intact.
    held = np.isin(data.subjects, [fold.test_subject, *fold.val_subjects])
    assert set(np.flatnonzero(held)) <= set(back)
    assert torch.equal(sub.labels[~is_train], data.labels[back[~is_train]])
    # Training (4 subjects x 12 clips): a quarter of the labels corrupted (seeded by the fold),
    # then 2 shots per class and subject chosen by the corrupted labels.
    train = data.subject_indices(fold.train_subjects)
    noisy = inject_label_noise(data.labels, train, 0.25, seed=(0, fold.index))
    assert perturbed.n_corrupted == 12
    assert torch.equal(sub.labels[is_train], torch.from_numpy(noisy[back[is_train]]))
    expected = 0
    for subject in fold.train_subjects:
        available = np.bincount(noisy[train][data.subjects[train] == subject], minlength=3)
        got = np.bincount(sub.labels[sub.subjects == subject].numpy(), minlength=3)
        assert np.array_equal(got, np.minimum(available, 2))
        expected += int(np.minimum(available, 2).sum())
    assert is_train.sum() == expected and perturbed.n_dropped == 48 - expected
    assert torch.equal(sub.inputs["flow"], data.inputs["flow"][torch.from_numpy(back)])
    local_test = np.flatnonzero(sub.subjects == fold.test_subject)
    result = FoldResult(fold.index, fold.test_subject, local_test, np.zeros((len(local_test), 3)),
                        {}, [], np.flatnonzero(is_train), np.empty(0, dtype=np.int64))
    restored = restore_positions(result, perturbed)
    assert np.array_equal(restored.test_indices, data.subject_indices([fold.test_subject]))
    assert set(data.subjects[restored.train_indices]) <= set(fold.train_subjects)
