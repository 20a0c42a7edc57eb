"""CK+ (extended Cohn-Kanade): a macro-expression corpus whose folder tree is the annotation.

Layout under the root (the folder holding ``cohn-kanade-images``)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt   one code, e.g. "   3.0000000e+00"
    FACS/S005/001/S005_001_00000011_facs.txt         lines "<AU> <intensity>", both floats

A sequence runs from a neutral onset to the peak, so onset is its first frame and apex = offset
its last; the emotion and FACS files code that last frame. Only 327 of the 593 real sequences
have an emotion file (and some have an empty ``Emotion`` folder): the others are
``"unlabelled"`` with a null label. Emotion codes: 0 neutral, 1 anger, 2 contempt, 3 disgust,
4 fear, 5 happy, 6 sadness, 7 surprise. The clip id is ``<subject>_<sequence>`` (``S005_001``),
``source_file`` the emotion file or else the sequence folder. 30 fps.
"""

from __future__ import annotations

import math
import re
from pathlib import Path, PurePosixPath
from typing import Any, Final

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.frames import frame_number, list_frames
from mer.data.readers.common import ClipRows, ReaderPolicy, ReadResult, safe_name
from mer.data.schema import CLIP_SCHEMA

DATASET: Final[str] = "ckplus"
FPS: Final[float] = 30.0
IMAGES_FOLDER: Final[str] = "cohn-kanade-images"
EMOTION_FOLDER: Final[str] = "Emotion"
FACS_FOLDER: Final[str] = "FACS"
EMOTION_SUFFIX: Final[str] = "_emotion.txt"
FACS_SUFFIX: Final[str] = "_facs.txt"
#: The emotion of each CK+ code, in code order (0..7).
EMOTION_CODES: Final[tuple[str, ...]] = (
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
#: The emotion of a sequence without an emotion file.
UNLABELLED: Final[str] = "unlabelled"
KNOWN_EMOTIONS: Final[frozenset[str]] = frozenset(EMOTION_CODES) | {UNLABELLED}
#: Largest emotion or FACS file read (the real ones are below 200 bytes).
MAX_LABEL_BYTES: Final[int] = 64 * 1024
_SUBJECT = re.compile(r"S\d+", re.IGNORECASE)
_SEQUENCE = re.compile(r"\d+")


def clip_id(subject: str, sequence: str) -> str:
    """Return the clip id of a subject and sequence folder (``S005``, ``001`` -> ``S005_001``)."""
    return f"{subject}_{sequence}"


def clip_folder(subject: str, clip: str) -> PurePosixPath:
    """Return the frame folder of a clip relative to the root (``cohn-kanade-images/S005/001``).

    Raises:
        DataError: the clip is not ``<subject>_<sequence>`` or either part is not a plain name.
    """
    at = f"{DATASET} clip {clip}"
    subject = safe_name(subject, at, "subject")
    prefix, sep, sequence = clip.partition(f"{subject}_")
    if prefix or not sep or not sequence:
        raise DataError(at, f"clip {clip!r} is not <subject>_<sequence> (e.g. S005_001)")
    return PurePosixPath(IMAGES_FOLDER, subject, safe_name(sequence, at, "sequence"))


def parse(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read the CK+ tree at ``path`` (the folder holding ``cohn-kanade-images``) into clips.

    Subject folders are ``S<number>`` and sequence folders ``<number>``; other folders, hidden
    entries and non-frame files (``.DS_Store``, ``Thumbs.db``) are skipped.

    Raises:
        DataError: naming the file and the rule, when the root or ``cohn-kanade-images`` is
            missing, a sequence folder holds no frames, a frame name lacks its folder's
            ``<subject>_<sequence>_`` prefix, an emotion or FACS file does not code the last
            frame or is not in the CK+ format, a label file has no image sequence, anything
            resolves outside the root (a symlink), or the corpus holds no sequence.
    """
    root = Path(path)
    if root.is_file():
        raise DataError(root, "CK+ has no annotation sheet: leave annotations unset so the "
                              "folder tree under the root is read")
    if not (root / IMAGES_FOLDER).is_dir():
        raise DataError(root / IMAGES_FOLDER, "CK+ image folder not found: the root must be "
                                              f"the folder holding {IMAGES_FOLDER}")
    real_root = root.resolve()
    rows = ClipRows(DATASET, root, policy, FPS, KNOWN_EMOTIONS)
    sources: dict[str, str] = {}
    for subject_dir in _subfolders(root / IMAGES_FOLDER, _SUBJECT):
        for sequence_dir in _subfolders(subject_dir, _SEQUENCE):
            clip, source = _add_sequence(rows, root, real_root, subject_dir.name, sequence_dir)
            sources[clip] = source
    result = rows.result()
    _check_label_files(root, sources)
    table = result.table
    column = pa.array([sources[clip] for clip in table["clip"].to_pylist()], pa.string())
    table = table.set_column(table.schema.get_field_index("source_file"),
                             CLIP_SCHEMA.field("source_file"), column)
    return ReadResult(table, result.dropped)


def read_annotations(path: str | Path, policy: ReaderPolicy = ReaderPolicy()) -> pa.Table:
    """Return the clip table of the CK+ tree at ``path`` (``root`` "", no frames)."""
    return parse(path, policy).table


def attach_frames(table: pa.Table, root: str | Path) -> pa.Table:
    """Fill ``root``, ``frames`` and ``frame_numbers`` of CK+ clips from the folders under ``root``.

    The CK+ counterpart of :func:`mer.data.readers.attach.attach_frames`, with the same checks
    plus the frame-name prefix of each sequence.

    Raises:
        DataError: naming the clip or file, when the root or a sequence folder is missing, a row
            is not a CK+ clip, a frame name lacks its prefix, the onset or offset frame file is
            missing, or a folder or frame resolves outside the root.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise DataError(root_path, "corpus root folder not found")
    real_root = root_path.resolve()
    rows = [_attach(row, root_path, real_root) for row in table.to_pylist()]
    out = pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)
    return out.replace_schema_metadata(table.schema.metadata)


def sequence_frames(folder: Path, subject: str, sequence: str,
                    real_root: Path) -> list[tuple[Path, int]]:
    """List a sequence's frames as ``(path, number)``, ascending by number.

    Raises:
        DataError: the folder holds no frames, a frame name is not
            ``<subject>_<sequence>_<number>``, or the folder or a frame resolves outside
            ``real_root``.
    """
    _check_inside(folder, real_root)
    frames = list_frames(folder)
    if not frames:
        raise DataError(folder, f"CK+ sequence folder holds no frames (expected "
                                f"{subject}_{sequence}_00000001.png ...)")
    prefix = re.compile(re.escape(f"{subject}_{sequence}_") + r"\d+")
    for frame in frames:
        if prefix.fullmatch(frame.stem) is None:
            raise DataError(frame, f"frame name does not match its folder: expected "
                                   f"{subject}_{sequence}_<frame number>{frame.suffix}")
        _check_inside(frame, real_root)
    return [(frame, frame_number(frame)) for frame in frames]


def read_emotion(path: Path) -> str:
    """Return the emotion coded in a CK+ emotion file (``   3.0000000e+00`` -> ``disgust``).

    Raises:
        DataError: the file is not one number equal to a code 0-7.
    """
    text = _read_text(path).strip()
    value = _number(text)
    if value is None or not value.is_integer() or not 0 <= value < len(EMOTION_CODES):
        raise DataError(path, f"emotion {text[:40]!r} is not a CK+ code 0-7 "
                              "(one number, e.g. 3.0000000e+00)")
    return EMOTION_CODES[int(value)]


def read_facs(path: Path) -> str:
    """Return the action units of a CK+ FACS file in file order, joined by ``+`` (``1+2+5``).

    Each non-blank line is ``<AU> <intensity>`` as two floats; the intensity is not kept.

    Raises:
        DataError: naming the line, when it is not two numbers with a positive integer AU, or
            when the file lists no action unit.
    """
    units = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        cells = line.split()
        if not cells:
            continue
        values = [_number(cell) for cell in cells]
        au = values[0]
        if len(values) != 2 or values[1] is None or au is None or not au.is_integer() or au < 1:
            raise DataError(f"{path} line {number}", f"{line.strip()[:40]!r} is not "
                            "'<AU> <intensity>' (two numbers, the AU a positive integer)")
        units.append(str(int(au)))
    if not units:
        raise DataError(path, "FACS file lists no action units")
    return "+".join(units)


def _subfolders(folder: Path, name: re.Pattern[str]) -> list[Path]:
    """Return the visible subfolders of ``folder`` whose name matches ``name``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and name.fullmatch(p.name))


def _add_sequence(rows: ClipRows, root: Path, real_root: Path, subject: str,
                  folder: Path) -> tuple[str, str]:
    """Add one sequence folder; return its clip id and its source (emotion file or folder)."""
    sequence = folder.name
    frames = sequence_frames(folder, subject, sequence, real_root)
    first, last = frames[0][1], frames[-1][1]
    emotion_file = _label_file(root / EMOTION_FOLDER / subject / sequence, EMOTION_SUFFIX,
                               f"{subject}_{sequence}", last, real_root)
    facs_file = _label_file(root / FACS_FOLDER / subject / sequence, FACS_SUFFIX,
                            f"{subject}_{sequence}", last, real_root)
    clip = clip_id(subject, sequence)
    rows.add(None, subject=subject, clip=clip, onset=first, apex=last, offset=last,
             emotion=read_emotion(emotion_file) if emotion_file else UNLABELLED,
             action_units=read_facs(facs_file) if facs_file else None)
    return clip, str(emotion_file or folder)


def _label_file(folder: Path, suffix: str, prefix: str, last: int,
                real_root: Path) -> Path | None:
    """Return the one ``*<suffix>`` file of a label folder, checked against the last frame.

    None when the folder is missing or holds no such file (an unlabelled sequence).
    """
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir()
                   if p.name.endswith(suffix) and not p.name.startswith(".") and p.is_file())
    if not files:
        return None
    if len(files) > 1:
        raise DataError(folder, f"more than one {suffix} file ({', '.join(p.name for p in files)})"
                                "; CK+ codes only the last frame of a sequence")
    path = files[0]
    _check_inside(path, real_root)
    match = re.fullmatch(re.escape(f"{prefix}_") + r"(\d+)" + re.escape(suffix), path.name)
    if match is None:
        raise DataError(path, f"label file name is not {prefix}_<frame number>{suffix}")
    if int(match.group(1)) != last:
        raise DataError(path, f"codes frame {int(match.group(1))} but the sequence ends at frame "
                              f"{last}; CK+ codes the peak, which is the last frame")
    return path


def _check_label_files(root: Path, sources: dict[str, str]) -> None:
    """Raise when an emotion or FACS file belongs to no image sequence that was read."""
    for folder, suffix in ((EMOTION_FOLDER, EMOTION_SUFFIX), (FACS_FOLDER, FACS_SUFFIX)):
        for path in sorted((root / folder).glob(f"*/*/*{suffix}")):
            subject, sequence = path.parent.parent.name, path.parent.name
            if not path.name.startswith(".") and clip_id(subject, sequence) not in sources:
                raise DataError(path, f"label file without an image sequence "
                                      f"({IMAGES_FOLDER}/{subject}/{sequence} not read)")


def _attach(row: dict[str, Any], root: Path, real_root: Path) -> dict[str, Any]:
    """Return ``row`` with its frames, checking the folder and the onset and offset frames."""
    if row["dataset"] != DATASET:
        raise DataError(f"{row['dataset']} clip {row['clip']}", "not a ckplus clip")
    relative = clip_folder(row["subject"], row["clip"])
    folder = root / relative
    at = f"{DATASET} clip {row['clip']} ({folder})"
    if not folder.is_dir():
        raise DataError(at, "clip folder not found under the corpus root")
    frames = sequence_frames(folder, row["subject"], relative.name, real_root)
    present = {number for _, number in frames}
    wanted = {"onset": row["onset"], "apex": row["apex"], "offset": row["offset"]}
    missing = [f"{name} {number}" for name, number in wanted.items()
               if number is not None and number not in present]
    if missing:
        raise DataError(at, f"frame file missing for {', '.join(missing)}")
    kept = [(path, n) for path, n in frames if row["onset"] <= n <= row["offset"]]
    row["root"] = str(root)
    row["frames"] = [path.relative_to(root).as_posix() for path, _ in kept]
    row["frame_numbers"] = [n for _, n in kept]
    return row


def _read_text(path: Path) -> str:
    """Return a small ASCII label file's text."""
    size = path.stat().st_size
    if size > MAX_LABEL_BYTES:
        raise DataError(path, f"label file of {size} bytes is larger than {MAX_LABEL_BYTES}; "
                              "not a CK+ emotion or FACS file")
    try:
        return path.read_text(encoding="ascii")
    except UnicodeDecodeError as error:
        raise DataError(path, "label file is not ASCII text") from error


def _number(text: str) -> float | None:
    """Return ``text`` as a finite float, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_inside(path: Path, real_root: Path) -> None:
    """Raise when ``path``, once symlinks are resolved, is not inside ``real_root``."""
    if not path.resolve().is_relative_to(real_root):
        raise DataError(path, "resolves outside the corpus root (symlink?)")
