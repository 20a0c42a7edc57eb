"""The `mer-pipeline` flow on a small project: every stage in order, gates as their own tasks,
a second run skips everything, and a planted bad clip stops the run at the flow gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from prefect.testing.utilities import prefect_test_harness

from flows.pipeline import StageFailed, pipeline


@pytest.fixture(scope="module", autouse=True)
def harness():  # noqa: ANN201 - a generator fixture
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.slow
def test_pipeline_runs_every_stage_then_nothing(quick_project: Path) -> None:
    targets = ["report", "compare", "compare_experiments", "evaluate_robustness"]
    outcomes = pipeline(quick_project, targets=targets)
    names = [outcome.name for outcome in outcomes]
    assert names.index("ingest@micro") < names.index("validate_clips@micro") < names.index(
        "faces@micro") < names.index("validate_flow@micro") < names.index("evaluate")
    assert all(outcome.ran for outcome in outcomes)
    metrics = json.loads((quick_project / "reports" / "metrics.json").read_text())
    assert set(metrics) == {"flow_logreg", "ststnet"}
    assert metrics["ststnet"]["all"]["n_subjects"] == 6
    assert list(metrics["ststnet"]["all"]["seeds"]) == ["0"]
    compared = json.loads((quick_project / "reports/comparisons.json").read_text())
    assert [(r["a"], r["b"], r["kind"]) for r in compared["rows"]] == [
        ("ststnet", "flow_logreg", "baseline")]
    experiments = json.loads((quick_project / "reports/experiments/comparisons.json").read_text())
    assert experiments["seeds"] == [0, 1]
    assert [(r["a"], r["b"]) for r in experiments["rows"]] == [
        ("ststnet", "flow_logreg"), ("ststnet", "ststnet_wide")]
    seeded = json.loads((quick_project / "reports/experiments/metrics.json").read_text())
    assert list(seeded["ststnet_wide"]["all"]["seeds"]) == ["0", "1"]
    assert seeded["ststnet"]["all"]["seeds"]["0"] == metrics["ststnet"]["all"]["seeds"]["0"]
    for gate in ("clips", "faces", "flow"):
        assert json.loads((quick_project / "reports/quality" / f"{gate}.json").read_text())[
            "success"]
    table = (quick_project / "reports/robustness/table.md").read_text().splitlines()
    assert table[0].startswith("| model | clean UF1 | clean UAR |")
    assert "| label_noise_20 UF1 |" in table[0] and "| few_shot_2 UF1 |" in table[0]
    assert table[2].startswith("| flow_logreg | ") and table[3].startswith("| ststnet | ")
    robust = json.loads((quick_project / "reports/robustness/metrics.json").read_text())
    assert robust["clean"] == metrics
    assert robust["few_shot_2"]["ststnet"]["all"]["n_clips"] == metrics["ststnet"]["all"]["n_clips"]
    again = pipeline(quick_project, targets=targets)
    assert not any(outcome.ran for outcome in again)


@pytest.mark.slow
def test_frozen_clip_fails_the_flow_gate_and_keeps_earlier_outputs(quick_project: Path) -> None:
    pipeline(quick_project, targets=["synth"])
    corpus = quick_project / "data/raw/synthetic/micro/casme2/CASME2_RAW_selected"
    user = quick_project / "data/raw/user_casme2"
    shutil.copytree(corpus, user)
    composite = (quick_project / "data/raw/synthetic/micro/combined_3class_gt.csv").read_text()
    member = next(line.split(",")[2] for line in composite.splitlines()
                  if line.startswith("casme2,sub01,"))  # a clip the composite keeps
    clip_dir = user / "sub01" / member
    frames = sorted(clip_dir.iterdir(), key=lambda p: int(p.stem[3:]))
    onset = np.asarray(Image.open(frames[0]))
    for frame in frames:  # a frozen video: every frame is the onset frame, byte for byte
        Image.fromarray(onset).save(frame, quality=95)
    params_path = quick_project / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["data"]["corpora"][0]["root"] = "data/raw/user_casme2"
    params_path.write_text(yaml.safe_dump(params))

    with pytest.raises(StageFailed, match="validate_flow@micro") as failure:
        pipeline(quick_project, targets=["report"])
    assert f"clip casme2/sub01_{clip_dir.name}" in str(failure.value)
    assert "apex differs from onset" in str(failure.value)
    report = json.loads((quick_project / "reports/quality/flow.json").read_text())
    assert not report["success"]
    assert (quick_project / "data/processed/micro/flow.parquet").is_file()
    assert not (quick_project / "reports/metrics.json").exists()
