"""Scores of the MEGC2019 protocol: UF1, UAR and accuracy on pooled predictions, with CIs.

Labels are integer class codes ``0 .. n_classes - 1`` (``mer.data.schema.LABELS`` order).
Confusion matrices have the *true* class on rows and the *predicted* class on columns.

Which classes are averaged (the zero-division choices):

- **UF1** averages ``2TP_c / (2TP_c + FP_c + FN_c)`` over the classes *present*, i.e. in ``y_true``
  or ``y_pred`` (``2TP + FP + FN > 0``). A class only ever predicted, never true, scores 0; a
  class in neither is left out rather than counted as 0. This equals scikit-learn's
  ``f1_score(y_true, y_pred, average="macro")`` with its default labels (the union of both), and
  ``f1_score(..., labels=range(K), average="macro", zero_division=0)`` restricted to those classes.
  With pooled MEGC2019 predictions all classes are present, so it is simply the mean over K.
- **UAR** averages the recall ``TP_c / N_c`` over the classes with ``N_c > 0`` true clips (the
  MEGC2019 definition, "mean over classes of TP_c/N_c": a recall of a class with no clips is
  undefined). This equals ``recall_score(y_true, y_pred, labels=<classes in y_true>,
  average="macro")``; it differs from scikit-learn's default labels only when a class is predicted
  but never true (scikit-learn would then average in a recall of 0).
- The ``*_from_confusion`` forms work on stacks of matrices and return NaN for an empty matrix;
  ``uf1``, ``uar`` and ``accuracy`` refuse empty input.

Counts are pooled: callers pass the predictions of *all* folds at once (never a mean of per-fold
scores), as the MEGC2019 guideline asks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mer.data.schema import LABELS
from mer.evaluation.folds import subject_keys


def _codes(values: object, name: str, n_classes: int) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array of codes in ``0..n_classes-1`` or raise."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class codes, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)) or \
                not np.all(array == np.round(array)):
            raise ValueError(f"{name}: class codes must be integers, got dtype {array.dtype}")
    codes = array.astype(np.int64)
    bad = (codes < 0) | (codes >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {codes[i]}: class codes must be in 0..{n_classes - 1}")
    return codes


def _check_n_classes(n_classes: int) -> None:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")


def _pair(y_true: object, y_pred: object, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    _check_n_classes(n_classes)
    t = _codes(y_true, "y_true", n_classes)
    p = _codes(y_pred, "y_pred", n_classes)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    return t, p


def confusion(y_true: object, y_pred: object, n_classes: int) -> np.ndarray:
    """Count (true, predicted) pairs.

    Args:
        y_true: true class codes, shape ``(n,)``.
        y_pred: predicted class codes, shape ``(n,)``.
        n_classes: K; codes must be in ``0..K-1``.

    Returns:
        An int64 array of shape ``(K, K)``; ``[i, j]`` counts clips of true class ``i`` predicted
        as ``j``.
    """
    t, p = _pair(y_true, y_pred, n_classes)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def uf1_from_confusion(matrix: np.ndarray) -> np.ndarray | float:
    """UF1 of one ``(K, K)`` matrix or a stack ``(..., K, K)``; NaN where the matrix is empty."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    denom = m.sum(axis=-1) + m.sum(axis=-2)  # (TP + FN) + (TP + FP) = 2TP + FP + FN
    present = denom > 0
    f1 = np.divide(2.0 * tp, denom, out=np.zeros_like(tp), where=present)
    n_present = present.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = f1.sum(axis=-1) / n_present
    return float(out) if np.ndim(out) == 0 else out


def uar_from_confusion(matrix: np.ndarray) -> np.ndarray | float:
    """UAR of one ``(K, K)`` matrix or a stack ``(..., K, K)``; NaN where the matrix is empty."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    n = m.sum(axis=-1)
    present = n > 0
    recall = np.divide(tp, n, out=np.zeros_like(tp), where=present)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = recall.sum(axis=-1) / present.sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def _nonempty_confusion(y_true: object, y_pred: object, n_classes: int) -> np.ndarray:
    m = confusion(y_true, y_pred, n_classes)
    if not m.any():
        raise ValueError("no predictions to score (empty y_true and y_pred)")
    return m


def uf1(y_true: object, y_pred: object, n_classes: int) -> float:
    """Unweighted F1: mean of per-class ``2TP/(2TP+FP+FN)`` over the classes present.

    See the module docstring for which classes count. Raises ``ValueError`` on empty input.
    """
    return float(uf1_from_confusion(_nonempty_confusion(y_true, y_pred, n_classes)))


def uar(y_true: object, y_pred: object, n_classes: int) -> float:
    """Unweighted average recall: mean of ``TP_c/N_c`` over the classes with ``N_c > 0``.

    See the module docstring for which classes count. Raises ``ValueError`` on empty input.
    """
    return float(uar_from_confusion(_nonempty_confusion(y_true, y_pred, n_classes)))


def accuracy(y_true: object, y_pred: object, n_classes: int) -> float:
    """Fraction of clips predicted correctly. Raises ``ValueError`` on empty input."""
    m = _nonempty_confusion(y_true, y_pred, n_classes)
    return float(np.trace(m) / m.sum())


def per_subject_scores(df: pd.DataFrame, *, n_classes: int = len(LABELS)) -> pd.DataFrame:
    """Score each subject's clips on their own.

    Args:
        df: one row per clip with ``subject``, ``y_true``, ``y_pred`` and, optionally,
            ``dataset``; with ``dataset`` the subject is the global key ``"<dataset>/<subject>"``.
        n_classes: K.

    Returns:
        Columns ``subject`` (str), ``n`` (int64), ``accuracy``, ``uf1``, ``uar`` (float64), one
        row per subject, sorted by subject. UF1/UAR follow the class rules of the module docstring
        (a subject rarely shows every class).
    """
    missing = [c for c in ("subject", "y_true", "y_pred") if c not in df.columns]
    if missing:
        raise ValueError(f"per_subject_scores: missing columns {missing}")
    _check_n_classes(n_classes)
    t = _codes(df["y_true"].to_numpy(), "y_true", n_classes)
    p = _codes(df["y_pred"].to_numpy(), "y_pred", n_classes)
    if "dataset" in df.columns:
        groups = subject_keys(df["dataset"], df["subject"])
    else:
        groups = df["subject"].astype(str).to_numpy(dtype=object)
    names, per = _group_confusions(t, p, groups, n_classes)
    counts = per.sum(axis=(-2, -1))
    return pd.DataFrame({
        "subject": pd.Series(names, dtype=object).astype(str),
        "n": counts.astype(np.int64),
        "accuracy": np.trace(per, axis1=-2, axis2=-1) / counts,
        "uf1": np.asarray(uf1_from_confusion(per), dtype=np.float64).reshape(-1),
        "uar": np.asarray(uar_from_confusion(per), dtype=np.float64).reshape(-1),
    })


def _group_confusions(t: np.ndarray, p: np.ndarray, groups: object,
                      n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted group names and one ``(K, K)`` confusion per group: ``(G, K, K)``."""
    g = np.asarray(groups, dtype=object)
    if g.shape != t.shape:
        raise ValueError(f"groups has {g.size} entries but there are {t.size} labels")
    names, inverse = np.unique(g.astype(str), return_inverse=True)
    kk = n_classes * n_classes
    flat = np.bincount(inverse * kk + t * n_classes + p, minlength=names.size * kk)
    return names, flat.reshape(names.size, n_classes, n_classes)


def resample_weights(n_groups: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_groups)`` counts: how often each group is drawn in each resample.

    Each resample draws ``n_groups`` groups with replacement (``numpy.random.default_rng(seed)``).
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_resamples, n_groups))
    rows = np.repeat(np.arange(n_resamples), n_groups)
    return np.bincount(rows * n_groups + draws.ravel(),
                       minlength=n_resamples * n_groups).reshape(-1, n_groups)


def bootstrap_ci(y_true: object, y_pred: object, groups: object, *, n_classes: int,
                 n_resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of UF1 and UAR, resampling *subjects* with replacement.

    Each resample draws as many subjects as there are, with replacement, and pools the confusion
    matrices of the drawn subjects (a subject drawn twice counts twice); clips of one subject stay
    together, since they are not independent. Vectorised: one ``(n_resamples, G)`` weight matrix
    times the ``(G, K*K)`` per-subject confusions.

    Args:
        y_true: true class codes, shape ``(n,)``.
        y_pred: predicted class codes, shape ``(n,)``.
        groups: subject key of each clip, shape ``(n,)``.
        n_classes: K.
        n_resamples: number of bootstrap resamples (>= 1).
        seed: seed of ``numpy.random.default_rng``; equal inputs and seed give equal intervals,
            whatever the order of the rows.
        level: coverage of the two-sided interval, in (0, 1).

    Returns:
        ``{"uf1": (lo, hi), "uar": (lo, hi)}``, floats.
    """
    t, p = _pair(y_true, y_pred, n_classes)
    if t.size == 0:
        raise ValueError("bootstrap_ci: no predictions to resample")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) \
            or n_resamples < 1:
        raise ValueError(f"bootstrap_ci: n_resamples must be a positive int, got {n_resamples!r}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"bootstrap_ci: level must be in (0, 1), got {level!r}")
    _, per = _group_confusions(t, p, groups, n_classes)
    n_groups = per.shape[0]
    weights = resample_weights(n_groups, int(n_resamples), seed)
    pooled = (weights @ per.reshape(n_groups, -1)).reshape(-1, n_classes, n_classes)
    alpha = 1.0 - float(level)
    quantiles = [alpha / 2.0, 1.0 - alpha / 2.0]
    out = {}
    for name, scores in (("uf1", uf1_from_confusion(pooled)), ("uar", uar_from_confusion(pooled))):
        lo, hi = np.quantile(np.asarray(scores, dtype=np.float64), quantiles)
        out[name] = (float(lo), float(hi))
    return out
