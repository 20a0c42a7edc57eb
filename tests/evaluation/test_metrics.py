from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from mer.evaluation.metrics import (
    accuracy,
    bootstrap_ci,
    confusion,
    per_subject_scores,
    uar,
    uar_from_confusion,
    uf1,
    uf1_from_confusion,
)

K = 3


def test_hand_computed_example():
    # true:  0 0 0 1 1 2      pred: 0 0 1 1 2 2
    # class 0: TP 2 FP 0 FN 1 -> F1 4/5,   recall 2/3
    # class 1: TP 1 FP 1 FN 1 -> F1 2/4,   recall 1/2
    # class 2: TP 1 FP 1 FN 0 -> F1 2/3,   recall 1/1
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    assert confusion(y_true, y_pred, K).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert uf1(y_true, y_pred, K) == pytest.approx((4 / 5 + 1 / 2 + 2 / 3) / 3)
    assert uar(y_true, y_pred, K) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert accuracy(y_true, y_pred, K) == pytest.approx(4 / 6)


def test_class_in_neither_true_nor_pred_is_left_out():
    # Class 2 never occurs: UF1 averages classes 0 and 1 only (not a 0 for class 2).
    y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 1]
    assert uf1(y_true, y_pred, K) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert uar(y_true, y_pred, K) == pytest.approx((1 / 2 + 1) / 2)


def test_class_only_predicted_counts_zero_in_uf1_and_is_skipped_in_uar():
    y_true, y_pred = [0, 0, 1, 1], [0, 2, 1, 1]
    assert uf1(y_true, y_pred, K) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert uar(y_true, y_pred, K) == pytest.approx((1 / 2 + 1) / 2)
    assert uf1(y_true, y_pred, K) == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_pooled_scores_match_sklearn_with_a_class_absent_from_one_fold():
    # Fold A has no surprise clips at all; fold B has all three. Scores pool the counts.
    fold_a_true, fold_a_pred = [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]
    fold_b_true, fold_b_pred = [0, 1, 2, 2, 2, 0], [0, 2, 2, 2, 1, 0]
    y_true = np.array(fold_a_true + fold_b_true)
    y_pred = np.array(fold_a_pred + fold_b_pred)
    labels = list(range(K))
    assert uf1(y_true, y_pred, K) == pytest.approx(
        f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert uar(y_true, y_pred, K) == pytest.approx(recall_score(y_true, y_pred, average="macro"))
    # Pooling differs from averaging per-fold scores, which is not what MEGC2019 does.
    per_fold = np.mean([uf1(fold_a_true, fold_a_pred, K), uf1(fold_b_true, fold_b_pred, K)])
    assert uf1(y_true, y_pred, K) != pytest.approx(per_fold)


labels_strategy = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1,
                           max_size=60)


@given(pairs=labels_strategy)
@settings(max_examples=200, deadline=None)
def test_matches_sklearn_on_random_label_vectors(pairs):
    k = 5
    y_true = np.array([t for t, _ in pairs])
    y_pred = np.array([p for _, p in pairs])
    present = np.union1d(y_true, y_pred)
    true_present = np.unique(y_true)
    assert confusion(y_true, y_pred, k).tolist() == confusion_matrix(
        y_true, y_pred, labels=list(range(k))).tolist()
    assert uf1(y_true, y_pred, k) == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12)
    assert uf1(y_true, y_pred, k) == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0), abs=1e-12)
    assert uar(y_true, y_pred, k) == pytest.approx(
        recall_score(y_true, y_pred, labels=true_present, average="macro", zero_division=0),
        abs=1e-12)
    assert accuracy(y_true, y_pred, k) == pytest.approx(accuracy_score(y_true, y_pred))
    assert 0.0 <= uf1(y_true, y_pred, k) <= 1.0
    assert 0.0 <= uar(y_true, y_pred, k) <= 1.0


def test_from_confusion_is_vectorised_and_nan_on_empty():
    m = confusion([0, 0, 1, 2], [0, 1, 1, 2], K)
    stack = np.stack([m, np.zeros_like(m), 2 * m])
    f, r = uf1_from_confusion(stack), uar_from_confusion(stack)
    assert f.shape == r.shape == (3,)
    assert f[0] == pytest.approx(f[2]) and r[0] == pytest.approx(r[2])
    assert np.isnan(f[1]) and np.isnan(r[1])


@pytest.mark.parametrize(("y_true", "y_pred", "match"), [
    ([0, 1], [0], "y_true has 2 labels but y_pred has 1"),
    ([0, 3], [0, 1], r"y_true\[1\] = 3"),
    ([0, -1], [0, 1], r"y_true\[1\] = -1"),
    ([0.5, 1], [0, 1], "class codes must be integers"),
    ([[0, 1]], [[0, 1]], "1-D"),
    ([], [], "no predictions"),
])
def test_bad_labels_are_rejected(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        uf1(y_true, y_pred, K)


def test_per_subject_scores_uses_global_keys():
    df = pd.DataFrame({
        "dataset": ["casme2", "casme2", "samm", "samm", "samm", "smic"],
        "subject": ["sub01", "sub01", "sub01", "sub01", "sub01", "s1"],
        "y_true": [0, 1, 0, 0, 2, 1],
        "y_pred": [0, 0, 0, 2, 2, 1],
    })
    scores = per_subject_scores(df)
    assert list(scores.columns) == ["subject", "n", "accuracy", "uf1", "uar"]
    assert scores["subject"].tolist() == ["casme2/sub01", "samm/sub01", "smic/s1"]
    assert scores["n"].tolist() == [2, 3, 1]
    samm = scores.iloc[1]
    assert samm["accuracy"] == pytest.approx(2 / 3)
    assert samm["uf1"] == pytest.approx(f1_score([0, 0, 2], [0, 2, 2], average="macro"))
    assert samm["uar"] == pytest.approx(recall_score([0, 0, 2], [0, 2, 2], average="macro"))
    assert scores.iloc[2][["accuracy", "uf1", "uar"]].tolist() == [1.0, 1.0, 1.0]


def _toy(seed: int, n_subjects: int = 30, clips: int = 5, acc: float = 0.7):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"d/s{i:02d}" for i in range(n_subjects)], clips)
    y_true = rng.integers(0, K, groups.size)
    y_pred = np.where(rng.random(groups.size) < acc, y_true, rng.integers(0, K, groups.size))
    return y_true, y_pred, groups


def test_bootstrap_is_deterministic_for_a_seed_and_row_order():
    y_true, y_pred, groups = _toy(0)
    a = bootstrap_ci(y_true, y_pred, groups, n_classes=K, n_resamples=300, seed=3)
    assert a == bootstrap_ci(y_true, y_pred, groups, n_classes=K, n_resamples=300, seed=3)
    order = np.random.default_rng(1).permutation(y_true.size)
    assert a == bootstrap_ci(y_true[order], y_pred[order], groups[order], n_classes=K,
                             n_resamples=300, seed=3)
    assert a != bootstrap_ci(y_true, y_pred, groups, n_classes=K, n_resamples=300, seed=4)


def test_bootstrap_interval_contains_the_point_estimate():
    y_true, y_pred, groups = _toy(2)
    ci = bootstrap_ci(y_true, y_pred, groups, n_classes=K, seed=0)
    for name, point in (("uf1", uf1(y_true, y_pred, K)), ("uar", uar(y_true, y_pred, K))):
        lo, hi = ci[name]
        assert 0.0 <= lo < point < hi <= 1.0
        assert hi - lo < 0.4
    narrow = bootstrap_ci(y_true, y_pred, groups, n_classes=K, seed=0, level=0.5)
    assert ci["uf1"][0] <= narrow["uf1"][0] <= narrow["uf1"][1] <= ci["uf1"][1]


def test_bootstrap_resamples_subjects_not_clips():
    # One subject all right, one all wrong: each resample is 0, 0.5 or 1 in accuracy terms,
    # so the UAR interval must reach the extremes.
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 1, 2, 1, 2, 0])
    groups = np.array(["a/1"] * 3 + ["a/2"] * 3)
    ci = bootstrap_ci(y_true, y_pred, groups, n_classes=K, n_resamples=400, seed=0)
    assert ci["uar"] == (0.0, 1.0)


@pytest.mark.parametrize(("kwargs", "match"), [({"n_resamples": 0}, "n_resamples"),
                                               ({"level": 1.0}, "level")])
def test_bootstrap_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci([0, 1], [0, 1], ["a", "b"], n_classes=K, **kwargs)
