"""The file work of scheduled retraining: check, quarantine or merge batches; record decisions.

Raw data is never modified: a batch is copied under a hidden name in the incoming folder and
renamed into the merged raw data in one step, so an interrupted merge leaves the raw data as it
was and the batch still waiting in the incoming folder (it leaves only after the rename).
"""

from __future__ import annotations

import filecmp
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


def quarantine(batch: Path, root: Path, params: Params, reason: str) -> Path:
    """Move a rejected batch whole into the quarantine folder and write the reason beside it."""
    folder = root / params.retrain.quarantine
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / batch.name
    if target.exists():
        target = folder / f"{batch.name}-{_stamp()}"
    shutil.move(batch, target)
    write_text(target.with_name(target.name + ".reason.json"),
               json.dumps({"batch": batch.name, "reason": reason}, indent=2) + "\n")
    return target


def merge(batch: Path, root: Path, params: Params) -> Path:
    """Move a checked batch into the merged raw data; the rename of a full copy is the commit.

    The batch is copied under a hidden name in the incoming folder (never inside the raw data)
    and renamed into ``data.incoming`` in one step; only then does it leave the incoming folder,
    itself by a rename before removal. Killed before the commit, the raw data is as it was and
    the batch still waits; killed after it, the next call finds the identical merged copy and
    only finishes removing the batch.

    Raises:
        DataError: ``data.incoming`` is not set, or a different batch of that name was merged
            already (raw data is never overwritten).
    """
    if params.data.incoming is None:
        raise DataError("params.yaml", "data.incoming is not set: nowhere to merge batches")
    target = root / params.data.incoming / batch.name
    if target.exists() and not _same_tree(batch, target):
        raise DataError(batch, f"a different batch named {batch.name} was merged already "
                               f"({target}); rename the new one")
    if not target.exists():
        work = batch.with_name(f".merging-{batch.name}")
        shutil.rmtree(work, ignore_errors=True)  # left by an interrupted merge
        shutil.copytree(batch, work, symlinks=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        work.rename(target)
    done = batch.with_name(f".merged-{batch.name}")
    shutil.rmtree(done, ignore_errors=True)
    batch.rename(done)
    shutil.rmtree(done)
    return target


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same relative paths with the same bytes."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(
        filecmp.cmp(a / rel, b / rel, shallow=False) for rel in files_a)


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
