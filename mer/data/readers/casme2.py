"""CASME II: the 2014 and 2019 coding sheets and the raw or cropped frame folders.

Sheet header: ``Subject, Filename, <blank>, OnsetFrame, ApexFrame, OffsetFrame, <blank>,
Action Units, Estimated Emotion`` (the 2019 revision adds ``Objective Classes``). The subject is
written as a number (``1`` or ``"01"``) and lives on disk as ``sub01``. Layout under the root:
``sub01/EP02_01f/img46.jpg`` (raw release) or ``sub01/EP02_01f/reg_img46.jpg`` (cropped).
Filenames repeat across subjects (EP01_01), so a clip id is ``<subject>_<Filename>``
(``sub01_EP02_01f``). 200 fps. Known defect: sub04/EP12_01f has apex ``"/"``; onset == apex
(sub05/EP09_05f) is fine.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any, Final

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.readers.common import (ClipRows, ReaderPolicy, ReadResult, cell_text, safe_name,
                                     shown, where)
from mer.data.readers.sheets import read_records
from mer.data.schema import EMOTION_TO_LABEL

DATASET: Final[str] = "casme2"
FPS: Final[float] = 200.0
KNOWN_EMOTIONS: Final[frozenset[str]] = frozenset(EMOTION_TO_LABEL[DATASET]) | {
    "others", "sadness", "fear"}
COLUMNS: Final[tuple[str, ...]] = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                                   "Action Units", "Estimated Emotion")
_SUBJECT = re.compile(r"(?:sub)?0*([0-9]{1,18})", re.IGNORECASE)  # ASCII digits, int-safe


def subject_folder(value: Any, at: str) -> str:
    """Return the on-disk subject folder (``sub01``) for a sheet's subject (``1``, ``"01"``)."""
    text = cell_text(value) or ""
    match = _SUBJECT.fullmatch(text)
    if match is None:
        raise DataError(at, f"Subject {shown(value)} is not a subject number (e.g. 1, 01 or sub01)")
    return f"sub{int(match.group(1)):02d}"


def clip_id(subject: str, filename: str) -> str:
    """Return the clip id of a subject folder and a sheet Filename (``sub01_EP02_01f``)."""
    return f"{subject}_{filename}"


def clip_folder(subject: str, clip: str) -> PurePosixPath:
    """Return the frame folder of a clip id (``sub01_EP02_01f`` -> ``sub01/EP02_01f``)."""
    return PurePosixPath(subject, clip.removeprefix(f"{subject}_"))


def parse(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read a CASME II coding sheet (2014 or 2019) into clips and drops."""
    rows = ClipRows(DATASET, path, policy, FPS, KNOWN_EMOTIONS)
    for row, record in read_records(path, COLUMNS):
        at = where(path, row)
        subject = subject_folder(record["Subject"], at)
        rows.add(row, subject=subject,
                 clip=clip_id(subject, safe_name(record["Filename"], at, "Filename")),
                 onset=record["OnsetFrame"], apex=record["ApexFrame"],
                 offset=record["OffsetFrame"], emotion=record["Estimated Emotion"],
                 action_units=record["Action Units"])
    return rows.result()


def read_annotations(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> pa.Table:
    """Return the clip table of a CASME II sheet alone (``root`` "", no frames)."""
    return parse(path, policy).table
