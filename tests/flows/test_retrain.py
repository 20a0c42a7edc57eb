"""The `mer-retrain` flow end to end on a small project: a new subject is merged, a bad batch is
quarantined whole, the pipeline reruns, and both metric sets and the decision are recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
import yaml
from prefect.testing.utilities import prefect_test_harness

from flows.pipeline import pipeline
from flows.retrain import retrain
from mer.synth import SynthConfig, generate


@pytest.fixture(scope="module", autouse=True)
def harness():  # noqa: ANN201 - a generator fixture
    with prefect_test_harness(server_startup_timeout=120):
        yield


def new_subject_batch(tmp_path: Path, incoming: Path, quick_synth: dict[str, object]) -> Path:
    """A CASME II batch holding a subject the project has never seen (sub03)."""
    source = tmp_path / "bigger"
    generate(source, 0, SynthConfig(**{**quick_synth, "casme2_subjects": 3}))
    corpus = source / "micro/casme2"
    batch = incoming / "lab-2026-11"
    shutil.copytree(corpus / "CASME2_RAW_selected/sub03", batch / "frames/sub03")
    book = openpyxl.load_workbook(corpus / "CASME2-coding-synthetic.xlsx")
    sheet = book.worksheets[0]
    for row in range(sheet.max_row, 1, -1):  # keep the header and sub03's rows only
        if int(sheet.cell(row, 1).value) != 3:
            sheet.delete_rows(row)
    book.save(batch / "coding.xlsx")
    (batch / "batch.yaml").write_text(
        yaml.safe_dump({"format": "casme2", "root": "frames", "annotations": "coding.xlsx"}))
    return batch


def broken_batch(incoming: Path) -> Path:
    """A batch whose sheet lacks the OffsetFrame column."""
    batch = incoming / "broken"
    (batch / "frames/sub09/EP01_01").mkdir(parents=True)
    book = openpyxl.Workbook()
    book.active.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", None,
                        "Action Units", "Estimated Emotion"])
    book.active.append([9, "EP01_01", None, 1, 2, None, "12", "happiness"])
    book.save(batch / "coding.xlsx")
    (batch / "batch.yaml").write_text(
        yaml.safe_dump({"format": "casme2", "root": "frames", "annotations": "coding.xlsx"}))
    return batch


@pytest.mark.slow
def test_new_subject_is_merged_and_bad_batch_quarantined(
        quick_project: Path, tmp_path: Path, quick_synth: dict[str, object]) -> None:
    params = yaml.safe_load((quick_project / "params.yaml").read_text())
    params["retrain"].update(model="ststnet", tolerance=1.0)  # any new result is promoted
    (quick_project / "params.yaml").write_text(yaml.safe_dump(params))
    assert retrain(quick_project) is None  # nothing waiting yet
    pipeline(quick_project, targets=["report"])
    clips_before = pq.read_table(quick_project / "data/interim/micro/clips.parquet").num_rows
    metrics_before = (quick_project / "reports/metrics.json").read_text()
    incoming = quick_project / "data/incoming"
    new_subject_batch(tmp_path, incoming, quick_synth)
    broken_batch(incoming)

    decision = retrain(quick_project)

    assert decision is not None and decision.model == "ststnet"
    clips = pq.read_table(quick_project / "data/interim/micro/clips.parquet").to_pylist()
    assert len(clips) > clips_before
    assert {c["subject"] for c in clips if c["dataset"] == "casme2"} >= {"sub03"}
    assert not any(incoming.iterdir())  # both batches left the incoming folder
    assert (quick_project / "data/raw/incoming/lab-2026-11/batch.yaml").is_file()
    assert (quick_project / "data/raw/incoming.dvc").is_file()  # a new DVC-tracked version
    reason = json.loads((quick_project / "data/quarantine/broken.reason.json").read_text())
    assert "OffsetFrame" in reason["reason"]
    assert not (quick_project / "data/raw/incoming/broken").exists()
    (record_dir,) = [p for p in (quick_project / "reports/retrain").iterdir() if p.is_dir()]
    record = json.loads((record_dir / "record.json").read_text())
    assert record["batches_merged"] == ["lab-2026-11"]
    assert record["previous_metrics"] == json.loads(metrics_before)
    assert record["new_metrics"]["ststnet"]["all"]["n_subjects"] == 7
    assert record["decision"]["reason"] == decision.reason
    assert (record_dir / "previous/metrics.json").read_text() == metrics_before
    assert decision.promote
    promoted = json.loads((quick_project / "reports/retrain/promoted.json").read_text())
    assert promoted["record"] == record_dir.name
    assert sorted((quick_project / promoted["checkpoints"]).glob("fold_*.pt"))
