"""SAMM v2: the micro-movement FACS sheet and the frame folders.

The sheet opens with a 13-row preamble; the header is on sheet row 14: ``Subject, Filename,
Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Micro, Action Units,
Estimated Emotion, Objective Classes, Notes``. Subjects are zero-padded to three digits on disk.
Layout under the root: ``006/006_1_2/006_05562.jpg``. 200 fps, greyscale.
Known defects: 028_4_1 has apex > offset, 032_3_1 has apex < onset.
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

DATASET: Final[str] = "samm"
FPS: Final[float] = 200.0
KNOWN_EMOTIONS: Final[frozenset[str]] = frozenset(EMOTION_TO_LABEL[DATASET]) | {"other"}
COLUMNS: Final[tuple[str, ...]] = ("Subject", "Filename", "Onset Frame", "Apex Frame",
                                   "Offset Frame", "Action Units", "Estimated Emotion")


def subject_folder(value: Any, at: str) -> str:
    """Return the on-disk subject folder (``006``) for a sheet's or file's subject (``6``)."""
    number = ascii_number(cell_text(value) or "")
    if number is None:
        raise DataError(at, f"Subject {shown(value)} is not a subject number (e.g. 006)")
    return f"{number:03d}"


def parse(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read the SAMM sheet into clips and drops; clip ids are the Filenames (``006_1_2``)."""
    rows = ClipRows(DATASET, path, policy, FPS, KNOWN_EMOTIONS)
    for row, record in read_records(path, COLUMNS):
        at = where(path, row)
        rows.add(row, subject=subject_folder(record["Subject"], at),
                 clip=safe_name(record["Filename"], at, "Filename"),
                 onset=record["Onset Frame"], apex=record["Apex Frame"],
                 offset=record["Offset Frame"], emotion=record["Estimated Emotion"],
                 action_units=record["Action Units"])
    return rows.result()


def read_annotations(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> pa.Table:
    """Return the clip table of the SAMM sheet alone (``root`` "", no frames)."""
    return parse(path, policy).table
