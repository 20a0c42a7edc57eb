"""Repeated runs and paired comparisons: scores over seeds, differences with subject bootstraps.

An entry trained with S seeds in the same LOSO folds has, per seed, pooled predictions of every
clip. Its score is the mean over seeds of the per-seed pooled UF1 (UAR); its spread is their
standard deviation. Intervals resample *subjects* with replacement (clips of a subject stay
together): each resample pools, per seed, the confusions of the drawn subjects, scores each
seed, and averages over seeds, so seed noise and subject sampling are both in the interval.

A paired comparison of entries A and B draws the *same* subjects for both in every resample and
takes the difference of their seed-mean scores. Its 95% interval says how much the difference
moves when the subjects change; it does not cover a change of corpus, of folds, or of the
hyper-parameters (chosen before), and with few subjects it is itself approximate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mer.data.schema import LABELS
from mer.evaluation.folds import subject_keys
from mer.evaluation.metrics import resample_weights, uar_from_confusion, uf1_from_confusion

#: Column of a predictions frame naming the training seed of its run (absent: one run, seed 0).
SEED_COLUMN = "seed"

_SCORES = {"uf1": uf1_from_confusion, "uar": uar_from_confusion}


@dataclass(frozen=True, eq=False)
class Runs:
    """One entry's runs as per-subject confusion matrices.

    Attributes:
        subjects: ``(G,)`` subject keys, sorted.
        seeds: the S training seeds, sorted.
        confusions: ``(S, G, K, K)`` counts, true class on rows.
    """

    subjects: np.ndarray
    seeds: tuple[int, ...]
    confusions: np.ndarray


def runs_of(frame: pd.DataFrame, n_classes: int = len(LABELS)) -> Runs:
    """Group one entry's predictions (``dataset, subject, y_true, y_pred[, seed]``) by seed.

    Raises:
        ValueError: a seed's run lacks a subject that another seed's run has.
    """
    keys = np.asarray(subject_keys(frame["dataset"].astype(str), frame["subject"].astype(str)))
    seeds = (frame[SEED_COLUMN].to_numpy(dtype=np.int64) if SEED_COLUMN in frame
             else np.zeros(len(frame), dtype=np.int64))
    subjects = np.unique(keys)
    t = frame["y_true"].to_numpy(dtype=np.int64)
    p = frame["y_pred"].to_numpy(dtype=np.int64)
    per_seed = []
    for seed in np.unique(seeds):
        mask = seeds == seed
        missing = sorted(set(subjects) - set(keys[mask]))
        if missing:
            raise ValueError(f"seed {seed}: no prediction for subject(s) {missing[:5]}")
        g = np.searchsorted(subjects, keys[mask])
        kk = n_classes * n_classes
        flat = np.bincount(g * kk + t[mask] * n_classes + p[mask], minlength=subjects.size * kk)
        per_seed.append(flat.reshape(subjects.size, n_classes, n_classes))
    return Runs(subjects, tuple(int(s) for s in np.unique(seeds)), np.stack(per_seed))


def seed_mean_scores(confusions: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """UF1 and UAR of each resample, averaged over seeds.

    Args:
        confusions: ``(S, G, K, K)`` per-seed, per-subject counts.
        weights: ``(R, G)`` subject counts of each resample.

    Returns:
        ``{"uf1": (R,), "uar": (R,)}``.
    """
    s, g, k, _ = confusions.shape
    pooled = np.einsum("rg,sgc->rsc", weights, confusions.reshape(s, g, k * k))
    pooled = pooled.reshape(len(weights), s, k, k)
    return {name: np.asarray(score(pooled), dtype=np.float64).mean(axis=1)
            for name, score in _SCORES.items()}


def _interval(values: np.ndarray, level: float) -> list[float]:
    alpha = 1.0 - level
    lo, hi = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return [float(lo), float(hi)]


def seed_summary(runs: Runs, *, n_resamples: int, seed: int, level: float = 0.95
                 ) -> dict[str, Any]:
    """Seed-mean UF1/UAR with subject-bootstrap intervals, their spread, and each seed's scores.

    Returns:
        ``{"uf1", "uf1_ci": [lo, hi], "uf1_sd", "uar", "uar_ci", "uar_sd", "accuracy",
        "seeds": {seed: {"uf1", "uar", "accuracy"}}}``; ``*_sd`` is the standard deviation over
        seeds (ddof 1; 0 for one seed).
    """
    pooled = runs.confusions.sum(axis=1)  # (S, K, K)
    per_seed = {name: np.asarray(score(pooled), dtype=np.float64).reshape(-1)
                for name, score in _SCORES.items()}
    per_seed["accuracy"] = np.trace(pooled, axis1=-2, axis2=-1) / pooled.sum(axis=(-2, -1))
    resampled = seed_mean_scores(runs.confusions,
                                 resample_weights(len(runs.subjects), n_resamples, seed))
    out: dict[str, Any] = {"accuracy": float(per_seed["accuracy"].mean())}
    for name in _SCORES:
        values = per_seed[name]
        out |= {name: float(values.mean()), f"{name}_ci": _interval(resampled[name], level),
                f"{name}_sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    out["seeds"] = {str(s): {name: float(per_seed[name][i]) for name in per_seed}
                    for i, s in enumerate(runs.seeds)}
    return out


def paired_difference(a: Runs, b: Runs, *, n_resamples: int, seed: int
                      ) -> dict[str, dict[str, Any]]:
    """A minus B on the same subjects: seed-mean scores, their difference and its interval.

    Every resample draws the same subjects for A and B (their seeds may differ in number).

    Returns:
        ``{"uf1": {"a", "b", "diff", "ci95": [lo, hi], "share_positive"}, "uar": {...}}``,
        ``share_positive`` being the share of resamples in which A scores above B.

    Raises:
        ValueError: if A and B were not scored on the same subjects.
    """
    if not np.array_equal(a.subjects, b.subjects):
        only = sorted(set(a.subjects) ^ set(b.subjects))
        raise ValueError(f"paired comparison needs the same subjects; differing: {only[:5]}")
    weights = resample_weights(len(a.subjects), n_resamples, seed)
    ones = np.ones((1, len(a.subjects)), dtype=np.int64)
    out = {}
    for name in _SCORES:
        score_a = seed_mean_scores(a.confusions, ones)[name][0]
        score_b = seed_mean_scores(b.confusions, ones)[name][0]
        diffs = seed_mean_scores(a.confusions, weights)[name] - \
            seed_mean_scores(b.confusions, weights)[name]
        out[name] = {"a": float(score_a), "b": float(score_b), "diff": float(score_a - score_b),
                     "ci95": _interval(diffs, 0.95),
                     "share_positive": float((diffs > 0).mean())}
    return out


@dataclass(frozen=True)
class Pair:
    """One comparison: entry ``a`` minus entry ``b``; ``kind`` is ``"baseline"`` (a model
    against the named baseline) or ``"ablation"`` (a base model against its ablation)."""

    a: str
    b: str
    kind: str


def comparison_pairs(models: Sequence[str], ablations: Mapping[str, str],
                     baseline: str) -> list[Pair]:
    """Every model (but the baseline) against ``baseline``, every base against its ablations.

    Args:
        models: the default model entries.
        ablations: ablation entry -> its base entry.
        baseline: the named baseline, one of ``models``.
    """
    pairs = [Pair(model, baseline, "baseline") for model in models if model != baseline]
    pairs += [Pair(base, ablation, "ablation") for ablation, base in ablations.items()]
    return pairs


def compare_entries(predictions: pd.DataFrame, pairs: Sequence[Pair], *, n_resamples: int,
                    seed: int, n_classes: int = len(LABELS)) -> list[dict[str, Any]]:
    """The paired difference (:func:`paired_difference`) of every pair, in order.

    Args:
        predictions: pooled predictions of every entry (``model`` names the entry).
        pairs: what to compare.
        n_resamples: bootstrap resamples (the same subject draws for every pair).
        seed: bootstrap seed.

    Returns:
        One dict per pair: ``{"a", "b", "kind", "seeds_a", "seeds_b", "uf1": {...}, "uar": {...}}``.

    Raises:
        ValueError: an entry has no predictions, or the two entries differ in subjects.
    """
    known = set(predictions["model"].astype(str))
    runs: dict[str, Runs] = {}
    rows = []
    for pair in pairs:
        for entry in (pair.a, pair.b):
            if entry not in known:
                raise ValueError(f"no predictions of {entry!r} to compare (have {sorted(known)})")
            if entry not in runs:
                runs[entry] = runs_of(predictions[predictions["model"].astype(str) == entry],
                                      n_classes)
        rows.append({"a": pair.a, "b": pair.b, "kind": pair.kind,
                     "seeds_a": list(runs[pair.a].seeds), "seeds_b": list(runs[pair.b].seeds),
                     **paired_difference(runs[pair.a], runs[pair.b], n_resamples=n_resamples,
                                         seed=seed)})
    return rows


def comparisons_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table: A, B, kind, then per score A, B and A - B [95% interval]."""
    header = ["A", "B", "kind", "seeds", "UF1 A", "UF1 B", "UF1 A - B [95% CI]", "UAR A",
              "UAR B", "UAR A - B [95% CI]"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["a"], row["b"], row["kind"], str(len(row["seeds_a"]))]
        for score in ("uf1", "uar"):
            s = row[score]
            cells += [f"{s['a']:.3f}", f"{s['b']:.3f}",
                      f"{s['diff']:+.3f} [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
