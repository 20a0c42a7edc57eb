"""The lineage audit on a tiny DVC project: passes, fails naming what changed, JSON shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mer.data.errors import DataError
from mer.lineage import audit_metrics, format_text
from mer.lineage.environment import CPU_BASELINE
from mer.stages import audit as audit_stage


def test_audit_passes_on_a_reproduced_project(project: Path) -> None:
    report = audit_metrics(project / "reports" / "metrics.json")
    assert report.ok, [m.describe() for m in report.mismatches]
    assert report.stage == "evaluate"
    assert [(m.model, m.dataset, m.metric, m.value) for m in report.metrics] == [
        ("m1", "all", "score", 10), ("m1", "all", "score_ci", [5, 10])]
    (lineage,) = report.lineages.values()
    assert lineage.stages == ("evaluate", "prepare")
    features = [row for row in report.inputs(lineage.key) if row["path"] == "data/features"]
    assert features and features[0]["md5"].endswith(".dir") and features[0]["kind"] == "artifact"
    assert report.environment.git.commit and not report.environment.git.dirty
    text = format_text(report)
    assert "param prepare.n = 3" in text and "param evaluate.scale = 2" in text
    assert "check: OK" in text


def test_audit_main_exit_codes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_stage.main([str(project / "reports" / "metrics.json")]) == 0
    assert "m1 all score = 10" in capsys.readouterr().out


def test_modified_output_file_fails_naming_it(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (project / "data" / "features" / "f1.txt").write_text("999")
    code = audit_stage.main([str(project / "reports" / "metrics.json")])
    captured = capsys.readouterr()
    assert code == 1
    assert "data/features/f1.txt (modified)" in captured.out
    assert "data/features" in captured.err and "prepare" in captured.err


def test_modified_metrics_file_fails_naming_it(project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    metrics = project / "reports" / "metrics.json"
    metrics.write_text('{"m1": {"all": {"score": 11, "score_ci": [5, 10]}}}')
    assert audit_stage.main([str(metrics)]) == 1
    assert "stage evaluate: out reports/metrics.json modified" in capsys.readouterr().err


def test_changed_param_fails_naming_the_key(project: Path) -> None:
    (project / "params.yaml").write_text("prepare:\n  n: 4\nevaluate:\n  scale: 2\n")
    report = audit_metrics(project / "reports" / "metrics.json")
    assert not report.ok
    assert [(m.stage, m.kind, m.path) for m in report.failures] == [
        ("prepare", "params", "params.yaml:prepare")]


def test_deleted_output_fails(project: Path) -> None:
    (project / "data" / "features" / "f0.txt").unlink()
    report = audit_metrics(project / "reports" / "metrics.json")
    assert any("data/features/f0.txt (deleted)" in f for m in report.failures for f in m.files)


def test_json_structure(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_stage.main([str(project / "reports" / "metrics.json"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True and payload["verified"] is True
    assert payload["stage"] == "evaluate" and payload["metrics_file"] == "reports/metrics.json"
    assert re.fullmatch(r"[0-9a-f]{40}", payload["git"]["commit"])
    assert payload["git"]["dirty"] is False
    assert payload["packages"]["numpy"]
    assert set(payload["packages"]) >= {"torch", "numpy", "kornia", "dlib", "opencv"}
    assert set(payload["cpu_paths"]) == set(CPU_BASELINE)  # each as this process has it
    metric = payload["metrics"][0]
    assert set(metric) == {"model", "dataset", "metric", "value", "stage", "lineage"}
    lineage = payload["lineages"][metric["lineage"]]
    assert lineage["stages"] == ["evaluate", "prepare"]
    assert {row["path"] for row in lineage["inputs"]} == {"data/features"}
    prepare = payload["stages"]["prepare"]
    assert prepare["params"] == {"prepare.n": 3}
    assert prepare["outs"][0]["path"] == "data/features"
    assert prepare["outs"][0]["md5"].endswith(".dir") and prepare["outs"][0]["nfiles"] == 3
    assert payload["mismatches"] == []


def test_flow_run_id_read_from_the_training_output(tmp_path: Path) -> None:
    """A model's lineage follows only its own foreach item and reads its config.yaml."""
    def entry(path: str, md5: str) -> dict:
        return {"path": path, "hash": "md5", "md5": md5}

    lock = {"schema": "2.0", "stages": {
        "flow": {"cmd": "mer flow", "outs": [entry("flow", "a.dir")],
                 "params": {"params.yaml": {"flow": {"tau": 0.25}}}},
        **{f"train@{m}": {"cmd": f"mer train --model {m}", "deps": [entry("flow", "a.dir")],
                          "outs": [entry(f"models/{m}", f"{m}.dir")]} for m in ("m1", "m2")},
        "evaluate": {"cmd": "mer evaluate", "deps": [entry("models", "all.dir")],
                     "outs": [entry("metrics.json", "b")]},
    }}
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "metrics.json").write_text(
        '{"m1": {"all": {"uf1": 0.5}}, "m2": {"all": {"uf1": 0.4}}}')
    (tmp_path / "models" / "m1").mkdir(parents=True)
    (tmp_path / "models" / "m1" / "config.yaml").write_text(
        "lineage:\n  prefect_flow_run_id: 1234-abcd\n  torch: 0.0.1\n")
    report = audit_metrics(tmp_path / "metrics.json", tmp_path, check=False)
    assert report.lineages["m1"].stages == ("evaluate", "train@m1", "flow")
    assert report.lineages["m2"].stages == ("evaluate", "train@m2", "flow")
    assert report.lineages["m1"].runs == {"models/m1": {"prefect_flow_run_id": "1234-abcd",
                                                       "torch": "0.0.1"}}
    assert report.lineages["m2"].runs == {}
    assert any("trained with torch 0.0.1" in w for w in report.warnings)
    text = format_text(report)
    assert "  m1 <- evaluate, lineage m1, flow run 1234-abcd\n" in text
    assert "  m2 <- evaluate, lineage m2, flow run -\n" in text and "None" not in text
    assert text.count("<- evaluate") == 2  # the lineage once per model, not per metric


def test_lock_chain_mismatch_is_a_failure(tmp_path: Path) -> None:
    lock = {"schema": "2.0", "stages": {
        "a": {"cmd": "a", "outs": [{"path": "x", "md5": "new"}]},
        "b": {"cmd": "b", "deps": [{"path": "x", "md5": "old"}],
              "outs": [{"path": "m.json", "md5": "c"}]}}}
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "m.json").write_text('{"score": 1}')
    report = audit_metrics(tmp_path / "m.json", tmp_path, check=False)
    assert [(m.stage, m.kind, m.path) for m in report.failures] == [("b", "lock", "x")]


def test_file_not_written_by_a_stage(project: Path) -> None:
    stray = project / "stray.json"
    stray.write_text("{}")
    with pytest.raises(DataError, match="no stage in dvc.lock"):
        audit_metrics(stray)


def test_no_lock_file(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(DataError, match="run `dvc repro`"):
        audit_metrics(tmp_path / "m.json")
