"""Small, synthetic LOSO prediction frames for the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from mer.evaluation.folds import loso_folds, subject_keys

#: (dataset, subject, number of clips) of the toy composite.
SUBJECTS = [("casme2", "sub01", 5), ("casme2", "sub02", 4), ("casme2", "sub03", 6),
            ("samm", "006", 5), ("samm", "007", 3), ("smic", "s1", 4), ("smic", "s2", 5)]


def build_predictions(models: tuple[str, ...] = ("m1",), seed: int = 0,
                      accuracy: float = 0.7) -> pd.DataFrame:
    """One row per (model, clip), each clip predicted by the fold testing its subject."""
    rng = np.random.default_rng(seed)
    keys = subject_keys([d for d, _, _ in SUBJECTS], [s for _, s, _ in SUBJECTS])
    fold_of = {f.test_subject: f.index for f in loso_folds(keys, n_val_subjects=1, seed=0)}
    rows = []
    for model in models:
        for dataset, subject, n in SUBJECTS:
            for j in range(n):
                y_true = int(rng.integers(0, 3))
                y_pred = y_true if rng.random() < accuracy else int(rng.integers(0, 3))
                probs = rng.dirichlet([1.0, 1.0, 1.0])
                rows.append({
                    "model": model, "dataset": dataset, "subject": subject,
                    "clip": f"{subject}_clip{j}", "fold": fold_of[f"{dataset}/{subject}"],
                    "y_true": y_true, "y_pred": y_pred, "prob_negative": probs[0],
                    "prob_positive": probs[1], "prob_surprise": probs[2]})
    return pd.DataFrame(rows)


@pytest.fixture
def predictions() -> pd.DataFrame:
    return build_predictions(models=("cnn", "svm"))


@pytest.fixture
def make_predictions() -> Callable[..., pd.DataFrame]:
    return build_predictions


@pytest.fixture
def folds() -> list:
    keys = subject_keys([d for d, _, _ in SUBJECTS], [s for _, s, _ in SUBJECTS])
    return loso_folds(keys, n_val_subjects=1, seed=0)
