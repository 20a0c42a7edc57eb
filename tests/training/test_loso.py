"""run_fold: subject-disjoint splits, no test clip in training, statistics from training only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from mer.evaluation.folds import Fold
from mer.training import FeatureSet, TrainConfig, loso, run_fold, split_fold
from mer.training.toy import toy_features

CONFIG = TrainConfig(epochs=1, batch_size=16, device="cpu")


FOLD = Fold(2, "toy/s02", ("toy/s00", "toy/s03", "toy/s04"), ("toy/s05",))


@pytest.fixture(scope="module")
def toy() -> FeatureSet:
    """6 subjects x 12 clips of 32 x 32."""
    return toy_features(n_subjects=6, clips_per_subject=12, size=32, seed=0)


def test_run_fold_never_trains_on_the_test_subject(
    toy: FeatureSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    real_fit = loso.fit

    def spy(model: Any, data: FeatureSet, config: TrainConfig, **kwargs: Any) -> Any:
        seen["train"] = set(data.subjects.tolist())
        seen["val"] = set(kwargs["val"].subjects.tolist())
        return real_fit(model, data, config, **kwargs)

    monkeypatch.setattr(loso, "fit", spy)
    result = run_fold("ststnet", {}, CONFIG, toy, FOLD)
    assert seen == {"train": {"toy/s00", "toy/s03", "toy/s04"}, "val": {"toy/s05"}}
    assert set(toy.subjects[result.test_indices]) == {"toy/s02"}
    assert result.test_indices.tolist() == list(range(24, 36))
    assert not set(result.train_indices) & set(result.test_indices)
    assert not set(result.val_indices) & (set(result.test_indices) | set(result.train_indices))
    assert result.probs.shape == (12, 3) and result.fold_index == 2
    assert result.test_subject == "toy/s02" and len(result.history) == 1


@pytest.mark.parametrize(
    ("fold", "message"),
    [
        (Fold(0, "toy/s00", ("toy/s00", "toy/s01"), ()), r"train and test subjects overlap"),
        (Fold(0, "toy/s00", ("toy/s01",), ("toy/s01",)), r"train and val subjects overlap"),
        (Fold(0, "toy/s00", ("toy/s01", "toy/s09"), ()), r"\['toy/s09'\] have no clip"),
        (Fold(0, "toy/s00", (), ("toy/s01",)), "no training clips"),
    ],
)
def test_bad_folds_are_refused(toy: FeatureSet, fold: Fold, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_fold(toy, fold)


def test_norm_statistics_ignore_test_and_validation_clips(toy: FeatureSet) -> None:
    flow = toy.inputs["flow"].clone()
    held_out = toy.subject_indices([FOLD.test_subject, *FOLD.val_subjects])
    flow[held_out] = flow[held_out] * 1000.0 + 500.0
    extreme = FeatureSet({**toy.inputs, "flow": flow}, toy.labels, toy.subjects, toy.clips)
    plain = run_fold("ststnet", {"input_size": 32}, CONFIG, toy, FOLD).state_dict
    poisoned = run_fold("ststnet", {"input_size": 32}, CONFIG, extreme, FOLD).state_dict
    train = toy.inputs["flow"][toy.subject_indices(FOLD.train_subjects)].double()
    assert torch.allclose(poisoned["norm.flow_mean"], train.mean(dim=(0, 2, 3)).float(), atol=1e-6)
    for key in ("norm.flow_mean", "norm.flow_std", "classifier.weight"):
        assert torch.equal(poisoned[key], plain[key])


def test_run_fold_predictions_are_reproducible(toy: FeatureSet) -> None:
    a = run_fold("ststnet", {}, CONFIG, toy, FOLD)
    b = run_fold("ststnet", {}, CONFIG, toy, FOLD)
    assert np.array_equal(a.probs, b.probs)


def test_progress_bar_names_the_fold(toy: FeatureSet, capsys: pytest.CaptureFixture[str]) -> None:
    run_fold("ststnet", {}, CONFIG, toy, FOLD, progress=True)
    assert "fold  2 toy/s02" in capsys.readouterr().err
