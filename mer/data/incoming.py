"""Batches of newly annotated clips, in a corpus's native layout, for scheduled retraining.

A batch is a folder holding its frames and coding sheet as the corpus ships them, plus a
``batch.yaml``::

    format: casme2                      # casme2 | samm | smic | casme3 | mmew
    root: CASME2_RAW_selected           # relative to the batch folder
    annotations: coding.xlsx            # relative to the batch folder (none for smic)

Merged batches live side by side under one folder (``data/raw/incoming/<batch>/``); folders whose
names start with ``.`` are work in progress of an interrupted merge and are never read.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
