"""The `logistic` trainer and the `flow_logreg` baseline: the optimum, balance, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mer.evaluation.folds import loso_folds
from mer.models import create_model
from mer.training import FeatureSet, TrainConfig
from mer.training.logistic import LogisticOptions, fit_linear
from mer.training.toy import toy_features
from mer.training.registry import get_trainer, options_mapping

CONFIG = TrainConfig(device="cpu")


@pytest.fixture(scope="module")
def toy() -> FeatureSet:
    return toy_features(n_subjects=6, clips_per_subject=12, size=32, signal=0.3, seed=0)


def test_fit_linear_reaches_the_stationary_point_of_the_objective() -> None:
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(60, 5)))
    labels = torch.from_numpy(np.r_[np.zeros(40), np.ones(12), np.full(8, 2)].astype(np.int64))
    options = LogisticOptions(c=0.5)
    weight, bias, _ = fit_linear(x, labels, 3, options)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    counts = torch.bincount(labels).double()
    balanced = (len(labels) / (3 * counts))[labels]  # scikit-learn's class_weight="balanced"
    loss = (balanced * F.cross_entropy(x @ weight.T + bias, labels, reduction="none")).mean() \
        + weight.pow(2).sum() / (2 * options.c * len(labels))
    grad_w, grad_b = torch.autograd.grad(loss, (weight, bias))
    assert grad_w.abs().max() < 1e-6 and grad_b.abs().max() < 1e-6


def test_flow_logreg_learns_and_is_the_same_for_every_seed(toy: FeatureSet) -> None:
    fold = loso_folds(sorted(set(toy.subjects)), n_val_subjects=0, seed=0)[0]
    trainer = get_trainer("logistic")
    runs = [trainer("flow_logreg", {"grid": 4}, TrainConfig(device="cpu", seed=seed), toy, fold,
                    init_state=None, macro=None, options=LogisticOptions(c=1.0), progress=False)
            for seed in (0, 1)]
    truth = toy.labels[runs[0].test_indices].numpy()
    assert (runs[0].probs.argmax(axis=1) == truth).mean() > 0.6  # chance is 1/3
    np.testing.assert_array_equal(runs[0].probs, runs[1].probs)


def test_options_and_inputs_are_checked(toy: FeatureSet) -> None:
    assert options_mapping("logistic", {}) == {"c": 1.0, "max_iter": 200}
    with pytest.raises(ValueError, match="C: Extra inputs are not permitted"):
        options_mapping("logistic", {"C": 2})
    with pytest.raises(ValueError, match="c: Input should be greater than 0"):
        options_mapping("logistic", {"c": 0.0})
    fold = loso_folds(sorted(set(toy.subjects)), n_val_subjects=0, seed=0)[0]
    state = create_model("flow_logreg").state_dict()
    with pytest.raises(ValueError, match="pretraining does not apply"):
        get_trainer("logistic")("flow_logreg", {}, CONFIG, toy, fold, init_state=state,
                                macro=None, options=LogisticOptions(), progress=False)
    with pytest.raises(ValueError, match="linear classifier on fixed features"):
        get_trainer("logistic")("ststnet", {}, CONFIG, toy, fold, init_state=None, macro=None,
                                options=LogisticOptions(), progress=False)
    with pytest.raises(ValueError, match="grid must be >= 1"):
        create_model("flow_logreg", grid=0)
