"""Errors for bad input: each names the file, the row or clip, and the rule that failed."""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: Control characters (a newline in a file or folder name, a NUL in a cell) written as escapes,
#: so a message stays on one line whatever the input held.
_ESCAPES: Final[dict[int, str]] = {code: repr(chr(code))[1:-1] for code in (*range(32), 127)}


class DataError(ValueError):
    """Input data broke a rule. The message is one line: ``<where>: <rule>``.

    Args:
        where: the file, optionally with a row (``sheet.xlsx row 14``) or clip (``sub01/EP02_01f``).
        rule: what is wrong and, where it helps, what to do.
    """

    def __init__(self, where: str | Path, rule: str) -> None:
        self.where = str(where).translate(_ESCAPES)
        self.rule = rule.translate(_ESCAPES)
        super().__init__(f"{self.where}: {self.rule}")
