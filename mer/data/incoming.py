"""Batches of newly annotated clips, in a corpus's native layout, for scheduled retraining.

A batch is a folder holding its frames and coding sheet as the corpus ships them, plus a
``batch.yaml``::

    format: casme2                      # casme2 | samm | smic | casme3 | mmew
    root: CASME2_RAW_selected           # relative to the batch folder
    annotations: coding.xlsx            # relative to the batch folder (none for smic)

Merged batches live side by side under one folder (``data/raw/incoming/<batch>/``); folders whose
names start with ``.`` are work in progress of an interrupted merge and are never read. Raw data
is never modified: :func:`merge` copies a batch under a hidden name beside it and renames the
copy into the merged folder in one step, so an interrupted merge leaves the raw data as it was
and the batch still waiting (it leaves only after the rename).
"""

from __future__ import annotations

import filecmp
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mer.data.atomic import write_text
from mer.data.errors import DataError
from mer.data.readers import ReaderPolicy, ReadResult, read_corpus

BATCH_FILE = "batch.yaml"


class BatchSpec(BaseModel):
    """The ``batch.yaml`` of one batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["casme2", "samm", "smic", "casme3", "mmew"]
    root: PurePosixPath
    annotations: PurePosixPath | None = None


def read_spec(batch: Path) -> BatchSpec:
    """Read and check ``batch/batch.yaml``; paths must stay inside the batch folder."""
    path = batch / BATCH_FILE
    try:
        spec = BatchSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except FileNotFoundError as error:
        raise DataError(path, "missing: a batch needs a batch.yaml (format, root, annotations)") \
            from error
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise DataError(path, f"not a valid batch description ({_first_line(error)})") from error
    for name in (spec.root, spec.annotations):
        if name is not None and (name.is_absolute() or ".." in name.parts):
            raise DataError(path, f"{name} must be a path inside the batch folder")
    return spec


def read_batch(batch: Path, policy: ReaderPolicy) -> ReadResult:
    """Read one batch with its format's reader (the same reader as the corpora)."""
    spec = read_spec(batch)
    annotations = batch / spec.annotations if spec.annotations is not None else None
    return read_corpus(spec.format, batch / spec.root, annotations, policy)


def batches(folder: Path) -> list[Path]:
    """The batch folders directly under ``folder`` (sorted; hidden ones skipped)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_merged(folder: Path, policy: ReaderPolicy) -> ReadResult | None:
    """Read every merged batch under ``folder`` into one result; None when there is none."""
    results = [read_batch(batch, policy) for batch in batches(folder)]
    if not results:
        return None
    return ReadResult(pa.concat_tables([r.table for r in results]),
                      [item for r in results for item in r.dropped])


def quarantine(batch: Path, folder: Path, reason: str) -> Path:
    """Move a rejected batch whole into ``folder`` and write ``<name>.reason.json`` beside it.

    A batch of a name already quarantined gets the UTC time appended to its name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / batch.name
    if target.exists():
        target = folder / f"{batch.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    shutil.move(batch, target)
    write_text(target.with_name(target.name + ".reason.json"),
               json.dumps({"batch": batch.name, "reason": reason}, indent=2) + "\n")
    return target


def merge(batch: Path, merged: Path) -> Path:
    """Move a checked batch into ``merged`` (the merged raw data); the rename of a full copy is
    the commit.

    The batch is copied under a hidden name beside it (never inside the raw data) and renamed
    into ``merged`` in one step; only then does it leave its folder, itself by a rename before
    removal. Killed before the commit, the raw data is as it was and the batch still waits;
    killed after it, the next call finds the identical merged copy and only finishes removing
    the batch.

    Returns:
        ``merged / batch.name``.

    Raises:
        DataError: a different batch of that name was merged already (raw data is never
            overwritten).
    """
    target = merged / batch.name
    if target.exists() and not same_tree(batch, target):
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


def same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same relative file paths with the same bytes."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(
        filecmp.cmp(a / rel, b / rel, shallow=False) for rel in files_a)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
