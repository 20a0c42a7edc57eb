"""Scheduled retraining's steps that read params.yaml: find and check batches, record decisions.

Quarantining and merging a batch are :func:`mer.data.incoming.quarantine` and
:func:`mer.data.incoming.merge` (given the folders named here).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mer.config import Params
from mer.data.atomic import write_text
from mer.data.errors import DataError
from mer.data.incoming import batches, read_batch
from mer.data.readers import ReaderPolicy
from mer.evaluation.compare import Decision, metrics_diff
from mer.quality.gate import GateError

#: Files of a run kept in each record, so earlier results stay retrievable.
RESULT_FILES = ("reports/metrics.json", "reports/predictions.parquet")
#: Where the train stages put the default models' checkpoints (dvc.yaml).
MODELS_DIR = Path("models/default")


def pending_batches(root: Path, params: Params) -> list[Path]:
    """Batches waiting in the incoming folder."""
    return batches(root / params.retrain.incoming)


def check_batch(batch: Path, params: Params) -> str | None:
    """Read a batch with its corpus reader and run the clip gate on it.

    Returns:
        None when it passes, else the reason (the file, row or clip and the rule).
    """
    from mer.quality.clips import validate_clips  # noqa: PLC0415 - loads Great Expectations

    try:
        result = read_batch(batch, ReaderPolicy(on_defect=params.data.on_defect))
        report = validate_clips(result.table, params.quality.min_labelled_clips_per_subject)
        if not report.success:
            raise GateError(report)
    except DataError as error:
        return str(error)
    return None


def merged_folder(root: Path, params: Params) -> Path:
    """The merged raw data (``data.incoming``) under ``root``.

    Raises:
        DataError: ``data.incoming`` is not set.
    """
    if params.data.incoming is None:
        raise DataError("params.yaml", "data.incoming is not set: nowhere to merge batches")
    return root / params.data.incoming


def keep_results(root: Path, record_dir: Path, name: str) -> dict[str, Any] | None:
    """Copy the run's result files into ``record_dir/name``; return its metrics (None if none)."""
    metrics = None
    for relative in RESULT_FILES:
        source = root / relative
        if source.is_file():
            (record_dir / name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, record_dir / name / source.name)
            if source.suffix == ".json":
                metrics = json.loads(source.read_text(encoding="utf-8"))
    return metrics


def write_record(record_dir: Path, *, batches_merged: list[str], quarantined: dict[str, str],
                 previous: dict[str, Any] | None, new: dict[str, Any] | None,
                 decision: Decision | None) -> Path:
    """Write the decision record: batches, both metric sets, their diff and the decision."""
    record = {
        "batches_merged": batches_merged, "quarantined": quarantined,
        "previous_metrics": previous, "new_metrics": new,
        "diff": metrics_diff(previous or {}, new) if new is not None else None,
        "decision": asdict(decision) if decision is not None else None,
    }
    return write_text(record_dir / "record.json", json.dumps(record, indent=2, sort_keys=True)
                      + "\n")


def promote(root: Path, record_dir: Path, params: Params, decision: Decision) -> Path:
    """Copy the deciding model's checkpoints into the record and point ``promoted.json`` at it."""
    checkpoints = record_dir / "models" / decision.model
    shutil.copytree(root / MODELS_DIR / decision.model, checkpoints, dirs_exist_ok=True)
    pointer = root / params.retrain.records / "promoted.json"
    write_text(pointer, json.dumps({"record": record_dir.name, "model": decision.model,
                                    "checkpoints": str(checkpoints.relative_to(root)),
                                    "metric": decision.metric, "value": decision.new},
                                   indent=2) + "\n")
    return pointer


def new_record_dir(root: Path, params: Params) -> Path:
    """A fresh folder for this retraining's record (named by the UTC time)."""
    folder = root / params.retrain.records / _stamp()
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
