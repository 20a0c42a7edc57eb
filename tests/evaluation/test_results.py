from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import f1_score, recall_score

from mer.data.errors import DataError
from mer.evaluation.results import (
    PREDICTION_COLUMNS,
    check_predictions,
    metrics_json,
    robustness_table,
    summarise,
    summary_table,
    write_metrics,
    write_predictions,
)

ENTRY_KEYS = ["accuracy", "n_clips", "n_subjects", "seeds", "uar", "uar_ci", "uar_sd", "uf1",
              "uf1_ci", "uf1_sd"]


def test_summarise_structure(predictions):
    metrics = summarise(predictions, n_resamples=200)
    assert list(metrics) == ["cnn", "svm"]
    for model, entries in metrics.items():
        assert list(entries) == ["all", "casme2", "samm", "smic"]
        for entry in entries.values():
            assert list(entry) == ENTRY_KEYS
            assert isinstance(entry["n_clips"], int) and isinstance(entry["n_subjects"], int)
            assert len(entry["uf1_ci"]) == len(entry["uar_ci"]) == 2
            for name in ("uf1", "uar", "accuracy"):
                assert 0.0 <= entry[name] <= 1.0
                assert entry[name] == round(entry[name], 6)
        assert entries["all"]["n_clips"] == 32 and entries["all"]["n_subjects"] == 7
        assert entries["casme2"]["n_clips"] == 15 and entries["casme2"]["n_subjects"] == 3


def test_summarise_scores_pooled_and_restricted_to_each_dataset(predictions):
    metrics = summarise(predictions, n_resamples=50)
    for model in ("cnn", "svm"):
        rows = predictions[predictions["model"] == model]
        assert metrics[model]["all"]["uf1"] == pytest.approx(
            f1_score(rows["y_true"], rows["y_pred"], average="macro"), abs=1e-6)
        for dataset in ("casme2", "samm", "smic"):
            sub = rows[rows["dataset"] == dataset]
            entry = metrics[model][dataset]
            assert entry["n_clips"] == len(sub)
            assert entry["uf1"] == pytest.approx(
                f1_score(sub["y_true"], sub["y_pred"], average="macro"), abs=1e-6)
            assert entry["uar"] == pytest.approx(
                recall_score(sub["y_true"], sub["y_pred"],
                             labels=np.unique(sub["y_true"]), average="macro"), abs=1e-6)
            assert entry["accuracy"] == pytest.approx(
                (sub["y_true"] == sub["y_pred"]).mean(), abs=1e-6)


def test_subjects_with_the_same_spelling_in_two_datasets_stay_apart(predictions):
    renamed = predictions.copy()
    renamed["subject"] = "x"  # one spelling everywhere: still one subject per dataset
    metrics = summarise(renamed, n_resamples=20)
    assert metrics["cnn"]["all"]["n_subjects"] == 3


def test_json_bytes_are_stable(predictions, tmp_path):
    shuffled = predictions.sample(frac=1.0, random_state=5).reset_index(drop=True)
    a = write_metrics(tmp_path / "a" / "metrics.json", summarise(predictions, n_resamples=100))
    b = write_metrics(tmp_path / "b" / "metrics.json", summarise(shuffled, n_resamples=100))
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert not list(a.parent.glob(".*.tmp"))


def test_metrics_json_refuses_nan():
    with pytest.raises(ValueError):
        metrics_json({"m": {"all": {"uf1": float("nan")}}})


def test_summarise_rejects_bad_predictions(predictions):
    with pytest.raises(DataError, match="lack columns"):
        summarise(predictions.drop(columns="y_pred"))
    bad = predictions.copy()
    bad.loc[3, "y_pred"] = 3
    with pytest.raises(DataError, match=r"casme2/sub01/sub01_clip3.*y_pred = 3"):
        summarise(bad)
    reserved = predictions.copy()
    reserved.loc[0, "dataset"] = "all"
    with pytest.raises(DataError, match="reserved"):
        summarise(reserved)


def test_check_predictions_accepts_a_clean_run(predictions, folds):
    check_predictions(predictions, folds)
    check_predictions(predictions, {"cnn": folds, "svm": folds},
                      expected_clips=predictions[predictions["model"] == "cnn"])


def test_check_predictions_catches_a_clip_predicted_twice(predictions, folds):
    twice = pd.concat([predictions, predictions.iloc[[7]]], ignore_index=True)
    with pytest.raises(DataError, match=r"model 'cnn' clip casme2/sub02/sub02_clip2 is predicted "
                                        r"more than once"):
        check_predictions(twice, folds)


def test_check_predictions_catches_the_wrong_fold(predictions, folds):
    wrong = predictions.copy()
    row = wrong.index[(wrong["model"] == "svm") & (wrong["clip"] == "006_clip1")][0]
    wrong.loc[row, "fold"] = (wrong.loc[row, "fold"] + 1) % len(folds)
    with pytest.raises(DataError, match=r"model 'svm' clip samm/006/006_clip1: predicted by "
                                        r"fold \d, which tests '.*', not the clip's subject "
                                        r"'samm/006'"):
        check_predictions(wrong, folds)
    fractional = predictions.astype({"fold": float})
    fractional.loc[5, "fold"] = 1.5
    with pytest.raises(DataError, match="sub02_clip0: fold 1.5 is not a fold index"):
        check_predictions(fractional, folds)
    unknown = predictions.copy()
    unknown.loc[0, "fold"] = 99
    with pytest.raises(DataError, match="fold 99 is not one of"):
        check_predictions(unknown, folds)


def test_check_predictions_catches_missing_and_extra_clips(predictions, folds):
    expected = predictions[predictions["model"] == "cnn"]
    dropped = predictions.drop(index=predictions.index[predictions["model"] == "svm"][4])
    with pytest.raises(DataError, match="model 'svm' clip casme2/sub01/sub01_clip4 is never"):
        check_predictions(dropped, folds, expected_clips=expected)
    with pytest.raises(DataError, match="is predicted but not in the expected clips"):
        check_predictions(predictions, folds, expected_clips=expected.iloc[1:])
    with pytest.raises(DataError, match="model 'svm' has predictions but no folds"):
        check_predictions(predictions, {"cnn": folds})


def test_check_predictions_catches_bad_probabilities(predictions, folds):
    bad = predictions.copy()
    bad.loc[2, "prob_negative"] = bad.loc[2, "prob_negative"] + 0.5
    with pytest.raises(DataError, match="sub01_clip2: probabilities"):
        check_predictions(bad, folds)


def test_summary_table_lists_every_entry(predictions):
    table = summary_table(summarise(predictions, n_resamples=50))
    lines = table.splitlines()
    assert table.endswith("\n")
    assert lines[0].split()[:3] == ["model", "dataset", "UF1"]
    assert len(lines) == 2 + 2 * 4
    assert [line.split()[1] for line in lines[2:6]] == ["all", "casme2", "samm", "smic"]
    assert len({len(line) for line in lines[:2]}) == 1  # header as wide as the rule
    assert "[" in lines[2] and "]" in lines[2]


def test_write_predictions_sorted_typed_and_deterministic(predictions, tmp_path):
    shuffled = predictions.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["extra_logit"] = 0.5
    a = write_predictions(tmp_path / "a.parquet", shuffled)
    b = write_predictions(tmp_path / "b.parquet",
                          shuffled.sample(frac=1.0, random_state=9).reset_index(drop=True))
    assert a.read_bytes() == b.read_bytes()
    table = pq.read_table(a)
    assert table.column_names == [*PREDICTION_COLUMNS, "extra_logit"]
    assert str(table.schema.field("fold").type) == "int32"
    frame = table.to_pandas()
    keys = list(zip(frame["model"], frame["dataset"], frame["subject"], frame["clip"],
                    strict=True))
    assert keys == sorted(keys)
    assert len(frame) == len(predictions)


def test_robustness_table_shows_each_condition_against_clean(make_predictions):
    clean = summarise(make_predictions(models=("cnn", "svm"), accuracy=0.9), n_resamples=50)
    noisy = summarise(make_predictions(models=("cnn",), accuracy=0.3), n_resamples=50)
    lines = robustness_table({"clean": clean, "noise": noisy}).splitlines()
    assert lines[0] == "| model | clean UF1 | clean UAR | noise UF1 | noise UAR |"
    cnn = lines[2].split(" | ")
    drop = noisy["cnn"]["all"]["uf1"] - clean["cnn"]["all"]["uf1"]
    assert cnn[0] == "| cnn" and cnn[3] == f"{noisy['cnn']['all']['uf1']:.3f} ({drop:+.3f})"
    assert drop < 0
    assert lines[3].endswith("| - | - |")  # svm was not run under noise
