"""SMIC-HS: no sheet, the folder tree is the annotation.

Layout under the root: ``s1/micro/negative/s1_ne_01/image035669.bmp``: subject folder, ``micro``,
emotion folder (negative, positive, surprise), clip folder, frames. Onset is the first frame,
offset the last, and there is no apex. 100 fps. The MEGC2019 composite file spells subjects and
clips with a zero-padded number (``s01``, ``s01_ne_01``); :func:`subject_folder` and
:func:`clip_folder_name` map those onto the disk spelling.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.frames import frame_number, list_frames
from mer.data.readers.common import ClipRows, ReaderPolicy, ReadResult, shown
from mer.data.schema import EMOTION_TO_LABEL

DATASET: Final[str] = "smic"
FPS: Final[float] = 100.0
KNOWN_EMOTIONS: Final[frozenset[str]] = frozenset(EMOTION_TO_LABEL[DATASET])
MICRO_FOLDER: Final[str] = "micro"
_SUBJECT = re.compile(r"s0*([0-9]{1,18})", re.IGNORECASE)  # ASCII digits, int-safe


def subject_folder(name: str, at: str = "") -> str:
    """Return the on-disk subject folder (``s1``) for ``s1``, ``s01`` or ``S01``."""
    match = _SUBJECT.fullmatch(name.strip())
    if match is None:
        raise DataError(at or name,
                        f"subject {shown(name)} is not an SMIC subject (e.g. s1 or s01)")
    return f"s{int(match.group(1))}"


def clip_folder_name(clip: str, at: str = "") -> str:
    """Return the on-disk clip folder (``s1_ne_01``) for ``s01_ne_01`` or ``s1_ne_01``."""
    subject, sep, rest = clip.strip().partition("_")
    if not sep or not rest:
        raise DataError(at or clip, f"clip {shown(clip)} is not an SMIC clip name (e.g. s1_ne_01)")
    return f"{subject_folder(subject, at or clip)}_{rest}"


def parse(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read the SMIC-HS folder tree at ``path`` (the corpus root) into clips.

    Only ``<subject>/micro/<emotion>/<clip>/`` folders are read; folders that are not subject
    folders (``s<number>``) and hidden entries are skipped.

    Raises:
        DataError: the root is missing, an emotion folder is not negative/positive/surprise,
            or a clip folder holds no frames.
    """
    root = Path(path)
    if root.is_file():
        raise DataError(root, "SMIC has no annotation sheet: leave annotations unset so the "
                              "folder tree is read (the composite file selects clips later)")
    if not root.is_dir():
        raise DataError(root, "SMIC root folder not found")
    rows = ClipRows(DATASET, root, policy, FPS, KNOWN_EMOTIONS)
    for subject_dir in _subfolders(root):
        if _SUBJECT.fullmatch(subject_dir.name) is None:
            continue
        for emotion_dir in _subfolders(subject_dir / MICRO_FOLDER):
            if emotion_dir.name.lower() not in KNOWN_EMOTIONS:
                raise DataError(emotion_dir, f"unknown emotion folder (known: "
                                             f"{', '.join(sorted(KNOWN_EMOTIONS))})")
            for clip_dir in _subfolders(emotion_dir):
                _add_clip(rows, subject_dir.name, emotion_dir.name.lower(), clip_dir)
    return rows.result()


def read_annotations(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> pa.Table:
    """Return the clip table of the SMIC-HS tree at ``path`` (``root`` "", no frames)."""
    return parse(path, policy).table


def _subfolders(folder: Path) -> list[Path]:
    """Return the visible subfolders of ``folder`` sorted by name (none when it is missing)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _add_clip(rows: ClipRows, subject: str, emotion: str, clip_dir: Path) -> None:
    """Add one clip folder, its first and last frame giving onset and offset."""
    frames = list_frames(clip_dir)
    if not frames:
        raise DataError(clip_dir, "SMIC clip folder holds no frames")
    rows.add(None, subject=subject, clip=clip_dir.name, onset=frame_number(frames[0]),
             apex=None, offset=frame_number(frames[-1]), emotion=emotion, apex_expected=False)
