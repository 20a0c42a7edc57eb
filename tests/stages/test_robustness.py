"""Robustness runs: `mer train --condition` builds the perturbed job, `mer robustness` scores it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from mer.config import Params
from mer.data.errors import DataError
from mer.evaluation.results import summarise, write_metrics, write_predictions
from mer.stages import robustness
from mer.stages.train import make_job
from mer.training import FeatureSet

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())


def _params(**overrides: object) -> Params:
    return Params.model_validate({**PARAMS, **overrides})


def _features(n_subjects: int = 3) -> FeatureSet:
    n = 4 * n_subjects
    return FeatureSet(inputs={"flow": torch.zeros(n, 3, 8, 8)},
                      labels=torch.arange(n) % 3,
                      subjects=np.array([f"casme2/sub{i // 4}" for i in range(n)], dtype=object),
                      clips=np.array([f"clip{i}" for i in range(n)], dtype=object))


def test_a_condition_replaces_the_shared_label_noise_and_shots() -> None:
    params = _params(train={**PARAMS["train"], "label_noise": 0.1})
    clean = make_job(params, "ststnet", _features().subjects)
    noisy = make_job(params, "ststnet", _features().subjects, "label_noise_20")
    few = make_job(params, "ststnet", _features().subjects, "few_shot_2")
    assert (clean.label_noise, clean.shots_per_class) == (0.1, None)
    assert (noisy.label_noise, noisy.shots_per_class) == (0.2, None)
    assert (few.label_noise, few.shots_per_class) == (0.0, 2)
    assert noisy.folds == clean.folds  # same subjects held out: comparable with clean


def test_an_unknown_condition_is_named() -> None:
    with pytest.raises(ValueError, match="no robustness.noise_50 .known: label_noise_20"):
        make_job(_params(), "ststnet", _features().subjects, "noise_50")


def _write_run(folder: Path, models_dir: Path, frame: pd.DataFrame, folds: list) -> None:
    model = str(frame["model"].iloc[0])
    write_predictions(folder / f"{model}.parquet", frame)
    config = {"folds": [asdict(fold) for fold in folds]}
    (models_dir / model).mkdir(parents=True)
    (models_dir / model / "config.yaml").write_text(yaml.safe_dump(config))


def _project(tmp_path: Path, make_predictions: Callable[..., pd.DataFrame], folds: list,
             conditions: dict[str, dict]) -> list[str]:
    """params.yaml, clean metrics and one weaker run per condition and model; the CLI args."""
    models = ["cnn", "svm"]
    params = {**PARAMS, "models": {m: {"name": "ststnet"} for m in models}, "ablations": {},
              "robustness": conditions, "evaluate": {"n_resamples": 50, "seed": 0}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    clean = summarise(make_predictions(models=tuple(models), accuracy=0.9), n_resamples=50)
    write_metrics(tmp_path / "metrics.json", clean)
    for condition in conditions:
        for model in models:
            _write_run(tmp_path / "pred" / condition, tmp_path / "models" / condition,
                       make_predictions(models=(model,), accuracy=0.4), folds)
    return ["--clean-metrics", str(tmp_path / "metrics.json"),
            "--predictions-dir", str(tmp_path / "pred"), "--models-dir", str(tmp_path / "models"),
            "--metrics", str(tmp_path / "out/metrics.json"),
            "--table", str(tmp_path / "out/table.md"), "--params", str(tmp_path / "params.yaml")]


def test_robustness_scores_each_condition_beside_clean(tmp_path: Path, make_predictions: Callable[..., pd.DataFrame],
                                                       folds: list) -> None:
    args = _project(tmp_path, make_predictions, folds, {"noise": {"label_noise": 0.2}, "few": {"shots_per_class": 1}})
    assert robustness.main(args) == 0
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert list(metrics) == ["clean", "few", "noise"]
    assert metrics["clean"] == json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["noise"]["cnn"]["all"]["uf1"] < metrics["clean"]["cnn"]["all"]["uf1"]
    table = (tmp_path / "out/table.md").read_text().splitlines()
    assert table[0] == ("| model | clean UF1 | clean UAR | few UF1 | few UAR | noise UF1 | "
                        "noise UAR |")  # conditions in params.yaml order
    assert [line.split(" | ")[0] for line in table[2:]] == ["| cnn", "| svm"]


def test_a_missing_condition_run_names_its_file(tmp_path: Path, make_predictions: Callable[..., pd.DataFrame],
                                                folds: list) -> None:
    args = _project(tmp_path, make_predictions, folds, {"noise": {"label_noise": 0.2}})
    (tmp_path / "pred/noise/svm.parquet").unlink()
    with pytest.raises(OSError, match="pred/noise/svm.parquet"):
        robustness.main(args)
    assert not (tmp_path / "out/metrics.json").exists()


def test_no_condition_is_a_clear_error(tmp_path: Path, make_predictions: Callable[..., pd.DataFrame],
                                       folds: list) -> None:
    args = _project(tmp_path, make_predictions, folds, {})
    with pytest.raises(DataError, match="no `robustness` conditions"):
        robustness.main(args)
