"""Seed-mean scores and paired comparisons over subjects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mer.evaluation.metrics import bootstrap_ci, uar, uf1
from mer.evaluation.paired import (
    Pair,
    compare_entries,
    comparison_pairs,
    comparisons_markdown,
    paired_difference,
    runs_of,
    seed_summary,
)


def _frame(model: str, accuracy: float, seeds: tuple[int, ...] = (0,), n_subjects: int = 12,
           clips: int = 9, rng_seed: int = 0) -> pd.DataFrame:
    """Predictions of ``model``: each clip right with probability ``accuracy`` (per seed)."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for seed in seeds:
        for s in range(n_subjects):
            for c in range(clips):
                truth = c % 3
                right = rng.random() < accuracy
                rows.append({"model": model, "dataset": "casme2", "subject": f"{s:02d}",
                             "clip": f"c{c}", "y_true": truth,
                             "y_pred": truth if right else (truth + 1) % 3, "seed": seed})
    return pd.DataFrame(rows)


def test_one_seed_matches_the_plain_scores_and_bootstrap() -> None:
    frame = _frame("m", 0.6)
    summary = seed_summary(runs_of(frame), n_resamples=200, seed=3)
    keys = frame["dataset"] + "/" + frame["subject"]
    ci = bootstrap_ci(frame["y_true"], frame["y_pred"], keys, n_classes=3, n_resamples=200,
                      seed=3)
    assert summary["uf1"] == pytest.approx(uf1(frame["y_true"], frame["y_pred"], 3))
    assert summary["uar"] == pytest.approx(uar(frame["y_true"], frame["y_pred"], 3))
    assert summary["uf1_ci"] == pytest.approx(list(ci["uf1"]))
    assert summary["uar_ci"] == pytest.approx(list(ci["uar"]))
    assert summary["uf1_sd"] == 0.0 and list(summary["seeds"]) == ["0"]


def test_several_seeds_give_the_mean_and_the_spread() -> None:
    frame = _frame("m", 0.6, seeds=(0, 1, 2))
    summary = seed_summary(runs_of(frame), n_resamples=100, seed=0)
    per_seed = [uf1(g["y_true"], g["y_pred"], 3) for _, g in frame.groupby("seed")]
    assert summary["uf1"] == pytest.approx(np.mean(per_seed))
    assert summary["uf1_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert summary["uf1_sd"] > 0
    assert [summary["seeds"][str(s)]["uf1"] for s in range(3)] == pytest.approx(per_seed)
    assert summary["uf1_ci"][0] <= summary["uf1"] <= summary["uf1_ci"][1]


def test_a_seed_missing_a_subject_is_refused() -> None:
    frame = _frame("m", 0.6, seeds=(0, 1))
    frame = frame[~((frame["seed"] == 1) & (frame["subject"] == "03"))]
    with pytest.raises(ValueError, match="seed 1.*casme2/03"):
        runs_of(frame)


def test_an_entry_against_itself_differs_by_exactly_zero() -> None:
    runs = runs_of(_frame("m", 0.6, seeds=(0, 1)))
    diff = paired_difference(runs, runs, n_resamples=100, seed=0)
    for score in ("uf1", "uar"):
        assert diff[score]["diff"] == 0.0 and diff[score]["ci95"] == [0.0, 0.0]


def test_a_better_entry_has_an_interval_above_zero_and_pairing_narrows_it() -> None:
    good = runs_of(_frame("a", 0.9, rng_seed=1))
    poor = runs_of(_frame("b", 0.5, rng_seed=2))
    diff = paired_difference(good, poor, n_resamples=500, seed=0)["uf1"]
    assert diff["diff"] > 0.3 and diff["ci95"][0] > 0 and diff["share_positive"] == 1.0
    # The same predictions shifted by one subject are no longer paired: wider interval.
    near = runs_of(_frame("c", 0.55, rng_seed=2))
    paired = paired_difference(near, poor, n_resamples=500, seed=0)["uf1"]
    assert paired["ci95"][0] <= paired["diff"] <= paired["ci95"][1]


def test_entries_on_other_subjects_cannot_be_paired() -> None:
    with pytest.raises(ValueError, match="same subjects"):
        paired_difference(runs_of(_frame("a", 0.6)), runs_of(_frame("b", 0.6, n_subjects=10)),
                          n_resamples=10, seed=0)


def test_compare_entries_rows_and_table() -> None:
    frame = pd.concat([_frame("base", 0.8, rng_seed=1), _frame("abl", 0.5, rng_seed=2),
                       _frame("logreg", 0.6, rng_seed=3)])
    pairs = comparison_pairs(["logreg", "base"], {"abl": "base"}, "logreg")
    assert pairs == [Pair("base", "logreg", "baseline"), Pair("base", "abl", "ablation")]
    rows = compare_entries(frame, pairs, n_resamples=100, seed=0)
    assert [(r["a"], r["b"], r["kind"]) for r in rows] == [
        ("base", "logreg", "baseline"), ("base", "abl", "ablation")]
    assert rows[1]["uf1"]["diff"] > 0
    table = comparisons_markdown(rows)
    assert table.count("\n") == 4 and "| base | abl | ablation | 1 |" in table
    with pytest.raises(ValueError, match="no predictions of 'gone'"):
        compare_entries(frame, [Pair("base", "gone", "asked")], n_resamples=10, seed=0)
