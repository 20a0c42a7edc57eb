"""CAS(ME)^3 part A: the official micro-expression label sheet and the colour frame folders.

Sheet columns: ``Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion`` (every
cell is text). ``Subject`` is the participant folder (``spNO.1``) and ``Filename`` the recorded
task (``b``); one task video holds several clips, so a clip id is ``<Subject>_<Filename>_<Onset>``
(``spNO.1_b_166``). Layout under the root: ``spNO.1/b/color/175.jpg`` (frames numbered through
the whole task video). 30 fps. Known defects: four rows with apex outside onset..offset (two of
them with offset 0).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Final

import pyarrow as pa

from mer.data.readers.common import (ClipRows, ReaderPolicy, ReadResult, required_frame,
                                     safe_name, where)
from mer.data.readers.sheets import read_records
from mer.data.schema import EMOTION_TO_LABEL

DATASET: Final[str] = "casme3"
FPS: Final[float] = 30.0
KNOWN_EMOTIONS: Final[frozenset[str]] = frozenset(EMOTION_TO_LABEL[DATASET]) | {"others"}
COLUMNS: Final[tuple[str, ...]] = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU",
                                   "emotion")


def clip_folder(subject: str, clip: str) -> PurePosixPath:
    """Return the frame folder of a clip id (``spNO.1_b_166`` -> ``spNO.1/b/color``)."""
    task = clip.removeprefix(f"{subject}_").rsplit("_", 1)[0]
    return PurePosixPath(subject, task, "color")


def parse(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read the CAS(ME)^3 part A sheet into clips and drops."""
    rows = ClipRows(DATASET, path, policy, FPS, KNOWN_EMOTIONS)
    for row, record in read_records(path, COLUMNS):
        at = where(path, row)
        subject = safe_name(record["Subject"], at, "Subject")
        task = safe_name(record["Filename"], at, "Filename")
        onset = required_frame(record["Onset"], at, "Onset")
        rows.add(row, subject=subject, clip=f"{subject}_{task}_{onset}", onset=onset,
                 apex=record["Apex"], offset=record["Offset"], emotion=record["emotion"],
                 action_units=record["AU"])
    return rows.result()


def read_annotations(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> pa.Table:
    """Return the clip table of the CAS(ME)^3 part A sheet alone (``root`` "", no frames)."""
    return parse(path, policy).table
