"""Errors for bad input: each names the file, the row or clip, and the rule that failed."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Input data broke a rule. The message is one line: ``<where>: <rule>``.

    Args:
        where: the file, optionally with a row (``sheet.xlsx row 14``) or clip (``sub01/EP02_01f``).
        rule: what is wrong and, where it helps, what to do.
    """

    def __init__(self, where: str | Path, rule: str) -> None:
        self.where = str(where)
        self.rule = rule
        super().__init__(f"{self.where}: {rule}")
