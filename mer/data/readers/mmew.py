"""MMEW: the micro-expression sheet (.csv or .xlsx) and the frame folders grouped by emotion.

Columns: ``Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units,
Estimated Emotion, remarks``; derived copies add label columns, which are ignored. The subject is
a number (``1``) and is kept as the prefix of its clip names (``S01``). Layout under the root:
``<emotion>/S01-01-001/15.jpg``. 90 fps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.readers.common import (ClipRows, ReaderPolicy, ReadResult, ascii_number, cell_text,
                                     safe_name, shown, where)
from mer.data.readers.sheets import read_records
from mer.data.schema import EMOTION_TO_LABEL

DATASET: Final[str] = "mmew"
FPS: Final[float] = 90.0
KNOWN_EMOTIONS: Final[frozenset[str]] = frozenset(EMOTION_TO_LABEL[DATASET]) | {"others"}
COLUMNS: Final[tuple[str, ...]] = ("Subject", "Filename", "OnsetFrame", "ApexFrame",
                                   "OffsetFrame", "Action Units", "Estimated Emotion")


def subject_id(value: Any, at: str) -> str:
    """Return the subject as its clip names spell it (``1`` -> ``S01``)."""
    number = ascii_number((cell_text(value) or "").upper().removeprefix("S"))
    if number is None:
        raise DataError(at, f"Subject {shown(value)} is not a subject number (e.g. 1 or S01)")
    return f"S{number:02d}"


def parse(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read an MMEW sheet into clips and drops; clip ids are the Filenames (``S01-01-001``)."""
    rows = ClipRows(DATASET, path, policy, FPS, KNOWN_EMOTIONS)
    for row, record in read_records(path, COLUMNS):
        at = where(path, row)
        rows.add(row, subject=subject_id(record["Subject"], at),
                 clip=safe_name(record["Filename"], at, "Filename"),
                 onset=record["OnsetFrame"], apex=record["ApexFrame"],
                 offset=record["OffsetFrame"], emotion=record["Estimated Emotion"],
                 action_units=record["Action Units"])
    return rows.result()


def read_annotations(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> pa.Table:
    """Return the clip table of an MMEW sheet alone (``root`` "", no frames)."""
    return parse(path, policy).table
