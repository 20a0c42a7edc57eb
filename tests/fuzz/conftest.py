"""Shared pieces of the fuzz tests: the outcome contract, corpus snapshots and sheet writers.

The contract every hostile input must meet: the reader returns a result (every drop with a
reason) or raises :class:`mer.data.errors.DataError` with a one-line message naming the file,
row or clip; any other exception fails the test with its traceback (and hypothesis shrinks it).
The fixtures are session-scoped functions so hypothesis tests can use them; each example makes
its own temporary folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pytest
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from mer.data.errors import DataError
from mer.data.readers import ReadResult
from mer.data.schema import CLIP_SCHEMA

Outcome = ReadResult | pa.Table | DataError
Snapshot = dict[str, tuple[str, int, str]]

#: A valid data row per sheet format (header, rows) the mutations start from.
HEADERS: dict[str, list[str | None]] = {
    "casme2": ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
               "Action Units", "Estimated Emotion"],
    "samm": ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
             "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
             "Objective Classes", "Notes"],
    "casme3": ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class",
               "emotion"],
    "mmew": ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
             "Estimated Emotion", "remarks"],
}
ROWS: dict[str, list[list[Any]]] = {
    "casme2": [[1, "EP02_01f", None, 46, 59, 86, None, "12", "happiness"],
               [4, "EP12_01f", None, 10, "/", 20, None, "4", "disgust"],
               [5, "EP09_05f", None, 3, 3, 9, None, "1+2", "surprise"]],
    "samm": [["006", "006_1_2", 1, 5562, 5588, 5619, 58, "Micro", "4+7", "Anger", 1, None],
             [28, "028_4_1", 4, 10, 30, 20, 11, "Micro", "12", "Happiness", 2, "apex late"]],
    "casme3": [["spNO.1", "b", "166", "175", "190", "4", "4", "disgust"],
               ["spNO.2", "c", "10", "12", "0", "12", "1", "happy"]],
    "mmew": [[1, "S01-01-001", 15, 20, 30, "4", "disgust", None],
             [2, "S02-03-002", 1, 4, 9, "12", "happiness", "x"]],
}
#: Fixed hostile cell values (the hypothesis strategies add random ones).
HOSTILE_CELLS: list[Any] = [
    None, "", " ", "\t", "/", "-", "0", -1, -2**31, 2**31, 2**63, -2**63, 2**70, 10**9, 1e308,
    -1e308, 1.5, 0.1, float("nan"), float("inf"), float("-inf"), "NaN", "nan", "inf", "-inf",
    "Infinity", "1e308", "1e3", "+12", "12.0", "0x10", "1_000", "١٢", "１２", "²", "⅕", "9" * 5000,
    "\u202e12", "\u200f46", "😀", "e\u0301", "\u0301", "a\x00b", "\x00", "..", ".", "../..",
    "/etc/passwd", "C:\\Windows", "C:", "\\\\server\\share", "~", "sub01/../x", "a\nb", "a\rb",
    True, False, "happiness\x00", "HAPPINESS", " happiness ", "x" * 70000,
]


def check_outcome(call: Callable[[], Any], *names: str) -> Outcome:
    """Run a reader call and enforce the contract; return its result or its DataError.

    ``names``: when the call raises, the message must contain at least one of them (the file,
    root or clip the input came from).
    """
    try:
        result = call()
    except DataError as error:
        message = str(error)
        assert message == f"{error.where}: {error.rule}"
        assert "\n" not in message and "\r" not in message, f"multi-line message {message!r}"
        assert error.where.strip() and error.rule.strip(), message
        if names:
            assert any(name in message for name in names), f"{message!r} names none of {names}"
        return error
    table = result.table if isinstance(result, ReadResult) else result
    if isinstance(table, pa.Table):
        assert table.schema.remove_metadata() == CLIP_SCHEMA
        for row in table.to_pylist():
            assert row["onset"] <= row["offset"]
            assert row["apex"] is None or row["onset"] <= row["apex"] <= row["offset"]
    if isinstance(result, ReadResult):
        for dropped in result.dropped:
            assert dropped.reason and dropped.clip and dropped.source_file
    return result


def take_snapshot(root: Path) -> Snapshot:
    """Every entry under ``root`` (symlinks not followed): content hash, mtime, link target."""
    entries: Snapshot = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            info = path.lstat()
            if path.is_symlink():
                entries[str(path)] = ("link", info.st_mtime_ns, os.readlink(path))
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entries[str(path)] = (digest, info.st_mtime_ns, "")
            else:
                entries[str(path)] = ("dir", info.st_mtime_ns, "")
    return entries


def xlsx_bytes(rows: Iterable[Sequence[Any] | None]) -> bytes:
    """A one-sheet workbook; characters openpyxl refuses (control characters) are removed."""
    book = openpyxl.Workbook()
    sheet = book.active
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row or (), start=1):
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: Iterable[Sequence[Any] | None], newline: str = "\n",
              bom: bool = False) -> bytes:
    """A UTF-8 CSV (quoted where needed); surrogates are replaced."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    for row in rows:
        writer.writerow(["" if cell is None else str(cell) for cell in row or ()])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8", "replace")


def sheet_bytes(format: str, rows: Iterable[Sequence[Any] | None]) -> tuple[str, bytes]:
    """The file suffix and bytes of a sheet in the format's usual container (MMEW: csv)."""
    if format == "mmew":
        return ".csv", csv_bytes(rows)
    return ".xlsx", xlsx_bytes(rows)


@pytest.fixture(autouse=True)
def quiet_readers() -> Iterable[None]:
    """Silence the readers' per-drop warnings (thousands would be captured and formatted)."""
    logger = logging.getLogger("mer.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="session")
def outcome() -> Callable[..., Outcome]:
    """:func:`check_outcome`."""
    return check_outcome


@pytest.fixture(scope="session")
def snapshot() -> Callable[[Path], Snapshot]:
    """:func:`take_snapshot`."""
    return take_snapshot


@pytest.fixture(scope="session")
def sheets() -> Any:
    """The sheet writers and the base rows, as one namespace."""
    class Sheets:
        headers, rows, hostile = HEADERS, ROWS, HOSTILE_CELLS
        xlsx, csv, for_format = staticmethod(xlsx_bytes), staticmethod(csv_bytes), \
            staticmethod(sheet_bytes)
    return Sheets
