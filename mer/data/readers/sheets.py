"""Reading annotation sheets (.xlsx through openpyxl, .csv through the csv module) as records.

The header row is found by looking for the required column names (so the SAMM preamble and the
blank columns of CASME II need no special case); rows are numbered as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import openpyxl

from mer.data.errors import DataError

#: How many rows from the top are searched for the header (SAMM's is on row 14).
HEADER_SEARCH_ROWS: Final[int] = 40

Record = dict[str, Any]


def read_records(path: str | Path, required: Sequence[str]) -> list[tuple[int, Record]]:
    """Return ``(row, record)`` for each non-blank data row of the first sheet of ``path``.

    ``row`` is the 1-based row number a spreadsheet shows; a record maps each header name
    (stripped) to its cell. Blank header cells (the unnamed columns of CASME II) are ignored.

    Raises:
        DataError: the file is missing or unreadable, or no row in the first
            :data:`HEADER_SEARCH_ROWS` holds all ``required`` column names (the message lists the
            missing ones against the best candidate row), a required column name appears twice in
            the header, or the workbook's sheet data is corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "annotation file not found")
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _xlsx_rows(path)
    return _records(path, rows, required)


def _records(path: Path, rows: Iterable[Sequence[Any]],
             required: Sequence[str]) -> list[tuple[int, Record]]:
    """Find the header among ``rows`` and turn the rows after it into records."""
    header: list[str | None] | None = None
    best: tuple[int, set[str]] | None = None
    records: list[tuple[int, Record]] = []
    for number, cells in enumerate(rows, start=1):
        if header is not None:
            if any(_filled(cell) for cell in cells):
                records.append((number, {name: cells[i] if i < len(cells) else None
                                         for i, name in enumerate(header) if name}))
            continue
        names = [str(cell).strip() if _filled(cell) else None for cell in cells]
        missing = set(required) - set(names)
        if not missing:
            header = names
            twice = sorted({name for name in required if names.count(name) > 1})
            if twice:
                raise DataError(f"{path} row {number}", f"duplicate column(s) {', '.join(twice)}"
                                                        ": which one to read is ambiguous")
        elif "Subject" in names and (best is None or len(missing) < len(best[1])):
            best = (number, missing)
        if header is None and number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        if best is not None:
            listed = ", ".join(sorted(best[1]))
            raise DataError(f"{path} row {best[0]}", f"header is missing column(s) {listed}")
        raise DataError(path, f"no header row with columns {', '.join(required)} found")
    return records


def _filled(cell: Any) -> bool:
    """Return whether a cell holds something other than blanks."""
    return cell is not None and (not isinstance(cell, str) or bool(cell.strip()))


def _xlsx_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """Yield the rows of the first worksheet (formulas as their cached values)."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError, ValueError, ... on bad files
        raise DataError(path, f"not a readable .xlsx workbook ({error})") from error
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read every row
        yield from sheet.iter_rows(values_only=True)
    except Exception as error:  # a corrupt sheet part fails while rows are parsed, not at load
        raise DataError(path, f"not a readable .xlsx workbook ({type(error).__name__}: "
                              f"{error})") from error
    finally:
        book.close()


def _csv_rows(path: Path) -> Iterator[list[str]]:
    """Yield the rows of a UTF-8 CSV file (a byte-order mark is accepted)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield from csv.reader(handle)
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(path, f"not a readable UTF-8 CSV file ({error})") from error
