"""Pieces every corpus reader shares: the policy, the result types and the row checks.

A reader turns each sheet row into a clip row through :class:`ClipRows`, which enforces the rules
common to all corpora (numeric frames, known emotions, safe names, unique clips) and applies the
:class:`ReaderPolicy` to the known defects of the real sheets.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Final, Literal

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.schema import CLIP_SCHEMA, EMOTION_TO_LABEL

logger = logging.getLogger(__name__)

#: A whole number written in ASCII digits (leading zeros allowed); at most 18 significant digits,
#: so ``int`` never meets Python's digit limit and superscripts or other scripts' digits are text.
_ASCII_NUMBER = re.compile(r"0*([0-9]{1,18})")

#: Columns of the table of dropped clips (what the ingest stage writes beside the clip table).
DROPPED_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("clip", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int32(), nullable=True),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ReaderPolicy:
    """What a reader does with a *known defect* of a real annotation sheet.

    Known defects are: an apex that is missing or not a number (CASME II sub04/EP12_01f has
    ``"/"``), an apex outside onset..offset (SAMM 028_4_1 and 032_3_1), and an offset before the
    onset. Anything else that is wrong (a missing column, a non-numeric onset, an unknown emotion,
    a duplicate clip, an unsafe file name) is always a :class:`DataError`. ``onset == apex`` is
    not a defect.

    Attributes:
        on_defect: ``"drop"`` leaves the clip out and lists it in ``ReadResult.dropped`` with the
            reason; ``"fail"`` raises a :class:`DataError` naming the file, row and rule;
            ``"estimate_apex"`` keeps a clip whose only defect is its apex, with the apex null
            (the flow stage spots it and records it as estimated, as for SMIC) and drops the
            rest. It keeps the official MEGC2019 composite whole (442 clips): SAMM 028_4_1 and
            032_3_1 are members of it.
    """

    on_defect: Literal["drop", "fail", "estimate_apex"] = "drop"

    def __post_init__(self) -> None:
        if self.on_defect not in ("drop", "fail", "estimate_apex"):
            raise ValueError(
                f"on_defect must be 'drop', 'fail' or 'estimate_apex', not {self.on_defect!r}")


@dataclass(frozen=True)
class Dropped:
    """A clip left out by a reader, with where it came from and why."""

    dataset: str
    clip: str
    source_file: str
    source_row: int | None
    reason: str


@dataclass(frozen=True)
class ReadResult:
    """A clip table (:data:`~mer.data.schema.CLIP_SCHEMA`) and the clips left out of it."""

    table: pa.Table
    dropped: list[Dropped] = field(default_factory=list)

    def dropped_table(self) -> pa.Table:
        """Return :attr:`dropped` as a table with :data:`DROPPED_SCHEMA`."""
        rows = [vars(item) for item in self.dropped]
        return pa.Table.from_pylist(rows, schema=DROPPED_SCHEMA)


def where(source: str | Path, row: int | None = None) -> str:
    """Return ``"<file> row <n>"`` (or just the file) for error messages."""
    return f"{source} row {row}" if row is not None else str(source)


def ascii_number(text: str) -> int | None:
    """Return ``text`` (ASCII digits, e.g. ``"006"``) as an int, or None for anything else."""
    match = _ASCII_NUMBER.fullmatch(text)
    return int(match.group(1)) if match else None


def shown(value: Any, limit: int = 60) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, for quoting a cell in a message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def parse_frame(value: Any, source: str, column: str) -> int | None:
    """Parse a frame number cell: an int, an integral float or a digit string; None when blank.

    Raises:
        DataError: the cell holds anything else (text, a fraction, a negative number).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and (number := ascii_number(value.strip())) is not None:
        value = number
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise DataError(source, f"{column} {shown(value)} is not a frame number")
    return value


def required_frame(value: Any, source: str, column: str) -> int:
    """Parse a frame number cell that must be filled (see :func:`parse_frame`).

    Raises:
        DataError: the cell is blank or not a frame number.
    """
    number = parse_frame(value, source, column)
    if number is None:
        raise DataError(source, f"{column} frame is blank")
    return number


def cell_text(value: Any) -> str | None:
    """Return a cell as written, stripped (``12`` and ``12.0`` give ``"12"``); None when blank."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def safe_name(value: Any, source: str, column: str) -> str:
    """Return a cell that names one folder or clip, refusing anything that could leave the root.

    Raises:
        DataError: the cell is blank, ``.``/``..``, absolute, or contains a path separator or a
            control character (NUL, newline: no folder is named so, and messages stay one line).
    """
    text = cell_text(value)
    if text is None:
        raise DataError(source, f"{column} is blank")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise DataError(source, f"{column} {shown(text)} holds a control character")
    if (text in (".", "..") or "/" in text or "\\" in text or PurePosixPath(text).is_absolute()
            or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive):
        raise DataError(source, f"{column} {shown(text)} is not a plain name "
                                "(no '..', '/', or drive)")
    return text


class ClipRows:
    """Collects the clip rows of one annotation source and builds the :class:`ReadResult`.

    Args:
        dataset: the corpus format (a key of ``EMOTION_TO_LABEL``).
        source: the annotation file (or folder), recorded in ``source_file``.
        policy: what to do with known defects.
        fps: frame rate of the corpus.
        known_emotions: the native emotions the corpus uses (lower case).
    """

    def __init__(self, dataset: str, source: str | Path, policy: ReaderPolicy, fps: float,
                 known_emotions: frozenset[str]) -> None:
        self.dataset, self.source, self.policy = dataset, str(source), policy
        self.fps, self.known_emotions = fps, known_emotions
        self.rows: list[dict[str, Any]] = []
        self.dropped: list[Dropped] = []
        self._seen: dict[str, int | None] = {}

    def emotion(self, value: Any, row: int | None) -> str:
        """Return the native emotion in lower case, or raise naming the row when unknown."""
        text = (cell_text(value) or "").lower()
        if text not in self.known_emotions:
            known = ", ".join(sorted(self.known_emotions))
            raise DataError(where(self.source, row),
                            f"unknown emotion {shown(text)} (known: {known})")
        return text

    def add(self, row: int | None, *, subject: str, clip: str, onset: Any, apex: Any,
            offset: Any, emotion: Any, action_units: Any = None,
            apex_expected: bool = True) -> None:
        """Check one clip and keep it, drop it or raise, following the policy.

        ``onset``, ``apex`` and ``offset`` are raw cells; a blank onset or offset is an error,
        a blank or ``"/"`` apex is a known defect (unless ``apex_expected`` is False).
        """
        at = where(self.source, row)
        if clip in self._seen:
            first_at = where(self.source, self._seen[clip])
            raise DataError(at, f"duplicate clip {clip!r} (also at {first_at})")
        self._seen[clip] = row
        native = self.emotion(emotion, row)
        first, last = required_frame(onset, at, "onset"), required_frame(offset, at, "offset")
        peak, defect = self._apex(apex, at) if apex_expected else (None, None)
        defect = defect or _range_defect(first, peak, last)
        if defect is not None and self.policy.on_defect == "estimate_apex" and first <= last:
            logger.warning("%s: clip %s: %s; apex cleared, to be estimated", at, clip, defect)
            peak, defect = None, None
        if defect is not None:
            self._defect(at, row, clip, defect)
            return
        self.rows.append({
            "dataset": self.dataset, "subject": subject, "clip": clip, "root": "", "frames": [],
            "frame_numbers": [], "onset": first, "apex": peak, "offset": last, "fps": self.fps,
            "action_units": cell_text(action_units), "emotion": native,
            "label": EMOTION_TO_LABEL[self.dataset].get(native), "source_file": self.source,
            "source_row": row,
        })

    def result(self) -> ReadResult:
        """Return the table and the drops; raise when the source held no clip rows at all."""
        if not self._seen:
            raise DataError(self.source, f"no clip rows found: empty {self.dataset} corpus")
        table = pa.Table.from_pylist(self.rows, schema=CLIP_SCHEMA)
        logger.info("%s: %d clips, %d dropped", self.source, table.num_rows, len(self.dropped))
        return ReadResult(table, list(self.dropped))

    @staticmethod
    def _apex(value: Any, at: str) -> tuple[int | None, str | None]:
        """Return ``(apex, None)``, or ``(None, defect)`` for a blank or ``"/"`` apex."""
        if value is None or (isinstance(value, str) and value.strip() in ("", "/")):
            return None, f"apex is missing ({value!r}): known defect"
        return parse_frame(value, at, "apex"), None

    def _defect(self, at: str, row: int | None, clip: str, reason: str) -> None:
        """Drop the clip (listing it with ``reason``) or raise, following the policy."""
        if self.policy.on_defect == "fail":
            raise DataError(at, f"clip {clip}: {reason} (policy on_defect='fail')")
        logger.warning("%s: dropping clip %s: %s", at, clip, reason)
        self.dropped.append(Dropped(self.dataset, clip, self.source, row, reason))


def _range_defect(onset: int, apex: int | None, offset: int) -> str | None:
    """Return the known defect of a frame range, or None when onset <= apex <= offset."""
    if offset < onset:
        return f"offset {offset} before onset {onset}: known defect"
    if apex is not None and not onset <= apex <= offset:
        return f"apex {apex} outside onset..offset {onset}..{offset}: known defect"
    return None
