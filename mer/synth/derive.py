"""Derive the synthesis statistics from the real coding sheets (development aid, not run by ``generate``).

The committed table in :mod:`mer.synth.statistics` is the output of :func:`derive_statistics`
over the CASME II 2014 sheet and the SAMM v2 sheet; a test re-derives it when the sheets are
present (``../shared/annotations``). The sheets themselves are never copied into the project.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from mer.synth.actions import SUPPORTED_AUS

_TOKEN = re.compile(r"^([LRAB]?)(\d+)([A-E]?)$")
_REF = re.compile(r"ref\([^)]*\)")

#: Quantile levels at which the duration distributions are stored (percent).
QUANTILE_LEVELS: tuple[int, ...] = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def normalise_au_code(code: Any) -> str | None:
    """Reduce a sheet's FACS code to the supported AUs, e.g. ``"4+R10"`` or ``"A12B"`` -> ``"12"``.

    Rules: ``ref(...)`` parts are dropped; of alternatives (``" or "``, ``"/"``) the first is kept;
    intensity letters (A-E) are dropped; ``L``/``R`` (unilateral) is kept, ``A`` (asymmetric) and
    ``B`` (bilateral) become bilateral; AUs outside :data:`SUPPORTED_AUS` are dropped.

    Returns:
        The tokens joined by ``+`` in ascending AU order, or None if nothing supported is left.
    """
    text = _REF.sub("", str(code)).replace("(", "").replace(")", "")
    tokens: dict[int, str] = {}
    for part in text.split("+"):
        part = part.strip().split(" or ")[0].split("/")[0].strip().upper()
        if part.startswith("T"):  # SAMM "T18": tongue-related prefix
            continue
        match = _TOKEN.match(part)
        if match is None:
            continue
        side, number = match.group(1), int(match.group(2))
        if number not in SUPPORTED_AUS:
            continue
        side = side if side in ("L", "R") else ""
        tokens[number] = "" if number in tokens and tokens[number] != side else side
    if not tokens:
        return None
    return "+".join(f"{tokens[n]}{n}" for n in sorted(tokens))


def _quantiles(values: list[int]) -> tuple[int, ...]:
    return tuple(int(round(v)) for v in np.percentile(np.asarray(values, float), QUANTILE_LEVELS))


def _summarise(rows: list[tuple[str, Any, Any, Any, Any]]) -> dict[str, Any]:
    """rows: (emotion, onset, apex, offset, au code) -> emotion counts, AU combos, durations."""
    emotions: Counter[str] = Counter()
    combos: dict[str, Counter[str]] = defaultdict(Counter)
    rise: list[int] = []
    fall: list[int] = []
    for emotion, onset, apex, offset, code in rows:
        emotion = str(emotion).strip().lower()
        emotions[emotion] += 1
        combo = normalise_au_code(code)
        if combo is not None:
            combos[emotion][combo] += 1
        if all(isinstance(v, int) for v in (onset, apex, offset)) and onset <= apex <= offset:
            rise.append(apex - onset)
            fall.append(offset - apex)
    return {
        "emotions": dict(sorted(emotions.items(), key=lambda kv: (-kv[1], kv[0]))),
        "combos": {
            e: tuple(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for e, c in sorted(combos.items())
        },
        "onset_to_apex": _quantiles(rise),
        "apex_to_offset": _quantiles(fall),
    }


def derive_statistics(casme2_xlsx: Path, samm_xlsx: Path) -> dict[str, dict[str, Any]]:
    """Read the CASME II 2014 and SAMM v2 sheets and summarise them per corpus.

    Args:
        casme2_xlsx: ``CASME2-coding-20140508.xlsx`` (header on row 1).
        samm_xlsx: ``SAMM_Micro_FACS_Codes_v2.xlsx`` (header on row 14).

    Returns:
        ``{"casme2": summary, "samm": summary}``; a summary has ``emotions`` (emotion -> clip count),
        ``combos`` (emotion -> ((normalised AU code, count), ...)), and ``onset_to_apex`` /
        ``apex_to_offset`` (frame counts at 200 fps at :data:`QUANTILE_LEVELS`).
    """
    import openpyxl

    book = openpyxl.load_workbook(casme2_xlsx, read_only=True, data_only=True)
    casme = [r for r in book.worksheets[0].iter_rows(min_row=2, values_only=True) if r[0] is not None]
    book.close()
    book = openpyxl.load_workbook(samm_xlsx, read_only=True, data_only=True)
    samm = [r for r in book.worksheets[0].iter_rows(min_row=15, values_only=True) if r[0] is not None]
    book.close()
    return {
        "casme2": _summarise([(r[8], r[3], r[4], r[5], r[7]) for r in casme]),
        "samm": _summarise([(r[9], r[3], r[4], r[5], r[8]) for r in samm]),
    }
