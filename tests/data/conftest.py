"""Fixtures for the data tests: the real annotation sheets (when present) and small builders.

The real sheets live outside the project (``<project>/../shared/annotations``) and are never
copied in; tests that need them skip when they are absent. Everything else is written by
the tests into ``tmp_path``: tiny .xlsx sheets (openpyxl) and folders of tiny images (Pillow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PIL import Image

WriteSheet = Callable[[Path, Sequence[Sequence[Any]]], Path]
MakeClip = Callable[..., list[Path]]


@pytest.fixture(scope="session")
def real_sheet(shared_annotations: Path) -> Callable[[str], Path]:
    """Return a function giving the path of one real sheet; skips when it is absent.

    ``shared_annotations`` (tests/conftest.py) is ``<project>/../shared/annotations`` and skips
    when that folder is missing.
    """
    def locate(relative: str) -> Path:
        path = shared_annotations / relative
        if not path.is_file():
            pytest.skip(f"real annotation sheet {path} not found")
        return path
    return locate


@pytest.fixture
def write_xlsx() -> WriteSheet:
    """Return ``write(path, rows)``: a one-sheet workbook; ``None`` rows stay blank rows."""
    def write(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
        book = openpyxl.Workbook()
        sheet = book.active
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row or (), start=1):
                if value is not None:
                    sheet.cell(row=number, column=column, value=value)
        path.parent.mkdir(parents=True, exist_ok=True)
        book.save(path)
        return path
    return write


@pytest.fixture
def write_csv() -> WriteSheet:
    """Return ``write(path, rows)``: a comma-separated file (cells written as ``str``)."""
    def write(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = (",".join("" if cell is None else str(cell) for cell in row) for row in rows)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    return write


@pytest.fixture
def make_clip() -> MakeClip:
    """Return ``make(folder, numbers, pattern="img{}.jpg", mode="RGB")``: tiny frame files."""
    def make(folder: Path, numbers: Iterable[int], pattern: str = "img{}.jpg",
             mode: str = "RGB") -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for number in numbers:
            path = folder / pattern.format(number)
            Image.new(mode, (4, 3), color=number % 256 if mode == "L" else (number % 256, 0, 0)
                      ).save(path)
            paths.append(path)
        return paths
    return make
