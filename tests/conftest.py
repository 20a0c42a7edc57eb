"""Shared test set-up: offline, quiet, the location of the real coding sheets, and small
synthetic LOSO prediction frames (evaluation and stage tests)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mer.lineage.environment import hold_cpu_paths

hold_cpu_paths()  # before numpy and torch load: the test process computes as `mer` processes do

import numpy as np
import pandas as pd
import pytest

from mer.evaluation.folds import loso_folds, subject_keys

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: The real coding sheets live beside the project, never inside it (licence).
SHARED_ANNOTATIONS = PROJECT_ROOT.parent / "shared" / "annotations"

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(scope="session")
def shared_annotations() -> Path:
    """The folder of real coding sheets; skips the test when it is absent (a user's machine)."""
    if not SHARED_ANNOTATIONS.is_dir():
        pytest.skip(f"real coding sheets not found at {SHARED_ANNOTATIONS}")
    return SHARED_ANNOTATIONS

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
