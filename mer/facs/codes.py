"""Parse action-unit codes as the coding sheets write them, and describe them in words.

The grammar, from the real CASME II, SAMM, CAS(ME)^3 and MMEW sheets (``+`` joins terms; spaces
around a term are ignored; letters are read case-insensitively)::

    code   := "?" | term ("+" term)*             "?" = the coder could not code it (CASME II)
    term   := group | note
    group  := atom | "(" atom (" or " atom)+ ")" | atom (" or " atom)+   alternatives (SAMM)
    atom   := "ref(" unit ")" | unit              SAMM's ref(...) mark; the AU is kept
    unit   := prefix? number intensity? suffix?
    prefix := "L" | "R"          left / right side (the subject's, as in FACS)
            | "A" | "A/L" | "A/R"  asymmetric (A/L: stronger on the left) (SAMM)
            | "U"                unilateral, side not given
            | "T" | "B"          top / bottom lip only; only for lip AUs 18, 22, 23, 24, 28
    number := a FACS code in :data:`mer.facs.table.FACS` (1-64, head 51-58, eyes 61-64)
    intensity := "A".."E" | "A/B" ...  FACS intensity (trace, slight, marked, severe, maximum)
    suffix := "L" | "R"          side written after the number (MMEW: "12L", "4R")
    note   := "soft focus"       a free-text note of SAMM, kept in ``AUCode.notes``, not an AU

So ``"A1"`` is an asymmetric AU 1 and ``"1A"`` AU 1 at intensity A; ``"B18"`` is AU 18 of the
bottom lip and ``"12B"`` AU 12 at intensity B. Anything else (an unknown AU number such as 40, an
unknown letter, an empty term) raises :class:`AUCodeError` naming the code and the term: it is
never skipped silently. A blank cell means "not coded" (SMIC has no AU column) and parses to None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final, Literal

from mer.facs.table import FACS, LIP_AUS, action_unit

Side = Literal["left", "right", "unilateral"]
Lip = Literal["top", "bottom"]

#: FACS intensity letters -> words.
INTENSITY: Final[dict[str, str]] = {"A": "trace", "B": "slight", "C": "marked", "D": "severe",
                                    "E": "maximum"}

#: Free-text notes that appear among the AUs of real sheets (upper case) -> how they are recorded.
KNOWN_NOTES: Final[dict[str, str]] = {"SOFT FOCUS": "soft focus"}

#: Head and eye codes that name a side: their mirror images.
MIRRORED_NUMBERS: Final[dict[int, int]] = {51: 52, 52: 51, 55: 56, 56: 55, 61: 62, 62: 61}

#: What the CASME II sheet writes when the coder could not code the clip.
UNCODED: Final[str] = "?"

_UNIT = re.compile(r"(?P<prefix>A/[LR]|[LRAUTB])?(?P<number>\d{1,2})"
                   r"(?P<intensity>[A-E](?:/[A-E])?)?(?P<suffix>[LR])?")
_REF = re.compile(r"REF\s*\((?P<inner>[^()]*)\)")
_OR = re.compile(r"\s+OR\s+")
_SIDES: Final[dict[str, Side]] = {"L": "left", "R": "right", "U": "unilateral"}


class AUCodeError(ValueError):
    """An action-unit code does not follow the grammar of :mod:`mer.facs.codes`.

    The message names the whole code, the offending term and the rule.
    """

    def __init__(self, code: str, term: str, rule: str) -> None:
        self.code, self.term, self.rule = code, term, rule
        super().__init__(f"action-unit code {code!r}, term {term!r}: {rule}")


@dataclass(frozen=True, order=True)
class AUTerm:
    """One coded action unit.

    Attributes:
        number: FACS number (a key of :data:`mer.facs.table.FACS`).
        side: ``"left"``, ``"right"`` (the subject's), ``"unilateral"`` (side not given) or None
            (both sides).
        asymmetric: coded ``A`` (SAMM): both sides, unequal; ``side`` then names the stronger one
            if written (``A/L12``).
        lip: ``"top"`` or ``"bottom"`` lip only (``T``/``B`` prefix), or None.
        intensity: FACS intensity ``"A"``..``"E"``, a range such as ``"A/B"``, or None.
        reference: written ``ref(...)`` (SAMM); the AU is kept, the mark is recorded.
    """

    number: int
    side: Side | None = None
    asymmetric: bool = False
    lip: Lip | None = None
    intensity: str | None = None
    reference: bool = False


@dataclass(frozen=True)
class AUCode:
    """A parsed cell.

    Attributes:
        text: the cell as written.
        groups: the terms in the order written; each group is a tuple of alternatives (one
            element unless the coder wrote ``X or Y``).
        notes: free-text notes found among the terms (:data:`KNOWN_NOTES`), lower case.
        uncoded: the cell was ``"?"`` (no AU known; ``groups`` is empty).
    """

    text: str
    groups: tuple[tuple[AUTerm, ...], ...]
    notes: tuple[str, ...] = ()
    uncoded: bool = False

    @property
    def numbers(self) -> tuple[int, ...]:
        """Every AU number mentioned (alternatives included), ascending, without repeats."""
        return tuple(sorted({term.number for group in self.groups for term in group}))

    def mirrored(self) -> AUCode:
        """Return the code of the left-right mirrored face (left and right swapped).

        Used for horizontally flipped training images: ``R12`` becomes ``L12``, and the
        lateral head and eye codes swap (51 <-> 52 turn, 55 <-> 56 tilt, 61 <-> 62 eyes).
        """
        swap: dict[Side | None, Side | None] = {"left": "right", "right": "left"}
        groups = tuple(tuple(replace(t, number=MIRRORED_NUMBERS.get(t.number, t.number),
                                     side=swap.get(t.side, t.side)) for t in group)
                       for group in self.groups)
        return replace(self, groups=groups)


def parse_au_code(text: str | None) -> AUCode | None:
    """Parse one action-unit cell of a coding sheet (grammar in the module docstring).

    Args:
        text: the cell, e.g. ``"4+R12"``, ``"R12B+R15A"``, ``"(R6 or R12)+R15"``, ``"12+15 "``.

    Returns:
        The parsed code, or None for a blank or missing cell (not coded).

    Raises:
        AUCodeError: on a term outside the grammar or an AU number not in the FACS table.

    Examples:
        >>> [(t.number, t.side) for group in parse_au_code("4+R12").groups for t in group]
        [(4, None), (12, 'right')]
    """
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if stripped == UNCODED:
        return AUCode(text=text, groups=(), uncoded=True)
    groups: list[tuple[AUTerm, ...]] = []
    notes: list[str] = []
    for raw in stripped.split("+"):
        term = " ".join(raw.split()).upper()
        if not term:
            raise AUCodeError(text, raw, "empty term (two '+' in a row, or a '+' at an end)")
        if term in KNOWN_NOTES:
            notes.append(KNOWN_NOTES[term])
            continue
        groups.append(_group(text, term))
    if not groups and not notes:
        raise AUCodeError(text, stripped, "no action unit")
    return AUCode(text=text, groups=tuple(groups), notes=tuple(notes))


def _group(code: str, term: str) -> tuple[AUTerm, ...]:
    """Parse ``atom`` or ``(atom or atom ...)`` (already upper case, single-spaced)."""
    inner, bracketed = term, term.startswith("(")
    if bracketed or (term.endswith(")") and _REF.fullmatch(term) is None):
        if not (term.startswith("(") and term.endswith(")")):
            raise AUCodeError(code, term, "unbalanced parentheses")
        inner = term[1:-1].strip()
    alternatives = _OR.split(inner)
    if len(alternatives) == 1 and bracketed:
        raise AUCodeError(code, term, "parentheses hold alternatives: '(X or Y)'")
    return tuple(_atom(code, alternative.strip()) for alternative in alternatives)


def _atom(code: str, atom: str) -> AUTerm:
    """Parse ``ref(unit)`` or ``unit``."""
    ref = _REF.fullmatch(atom)
    if ref is not None:
        return replace(_unit(code, ref.group("inner").strip()), reference=True)
    return _unit(code, atom)


def _unit(code: str, unit: str) -> AUTerm:
    """Parse ``prefix? number intensity? suffix?``."""
    match = _UNIT.fullmatch(unit.replace(" ", ""))
    if match is None:
        raise AUCodeError(code, unit, "not an action unit: expected e.g. 12, R12, 12B, A/L12, "
                          "T18, 12L or ref(12)")
    number = int(match.group("number"))
    if number not in FACS:
        raise AUCodeError(code, unit, f"AU {number} is not a FACS code (see mer.facs.FACS)")
    prefix, suffix = match.group("prefix"), match.group("suffix")
    if prefix in _SIDES and suffix:
        raise AUCodeError(code, unit, "side written both before and after the number")
    side: Side | None = _SIDES.get(prefix or "") or _SIDES.get(suffix or "")
    lip: Lip | None = None
    if prefix in ("T", "B"):
        if number not in LIP_AUS:
            raise AUCodeError(code, unit, f"prefix {prefix} (top/bottom lip) applies only to the "
                              f"lip AUs {sorted(LIP_AUS)}")
        lip = "top" if prefix == "T" else "bottom"
    asymmetric = prefix is not None and prefix.startswith("A")
    if prefix in ("A/L", "A/R"):
        side = _SIDES[prefix[-1]]
    if asymmetric and suffix:
        side = _SIDES[suffix]
    return AUTerm(number=number, side=side, asymmetric=asymmetric, lip=lip,
                  intensity=match.group("intensity"), reference=False)


def describe_term(term: AUTerm, *, muscles: bool = True, intensity: bool = False) -> str:
    """Describe one AU in words, e.g. ``"lip corner puller on the right (zygomaticus major)"``.

    Args:
        term: the parsed AU.
        muscles: append the muscular basis in parentheses (when the FACS table has one).
        intensity: prefix the FACS intensity word (``"slight"`` for B) when coded.
    """
    unit = action_unit(term.number)
    words = unit.name
    if intensity and term.intensity:
        words = " to ".join(INTENSITY[letter] for letter in term.intensity.split("/")) + " " + words
    if term.asymmetric:
        words = "asymmetric " + words
    if term.lip is not None:
        words += " of the upper lip" if term.lip == "top" else " of the lower lip"
    if term.side == "unilateral":
        words += " on one side"
    elif term.side is not None:
        words += (" stronger on the " if term.asymmetric else " on the ") + term.side
    if muscles and unit.muscles:
        words += f" ({unit.muscles})"
    return words


def describe(code: AUCode | None, *, muscles: bool = True, intensity: bool = False) -> str | None:
    """Describe a parsed code as one sentence for a text encoder.

    The description is canonical: the groups are sorted by AU number and repeats removed, so
    ``"4+7"`` and ``"7+4"`` read the same. Alternatives read ``"either X or Y"``; ``ref(...)``
    marks and notes are left out.

    Args:
        code: a parsed code (None, or an uncoded ``"?"``, gives None).
        muscles: see :func:`describe_term`.
        intensity: see :func:`describe_term`.

    Returns:
        e.g. ``"brow lowerer (depressor glabellae, ...), lip corner puller on the right
        (zygomaticus major)"``, or None when there is no AU to describe.

    Examples:
        >>> describe(parse_au_code("1+R12"), muscles=False)
        'inner brow raiser, lip corner puller on the right'
    """
    if code is None or not code.groups:
        return None
    phrases: list[str] = []
    for group in sorted(code.groups, key=lambda g: min((t.number, t) for t in g)):
        words = [describe_term(t, muscles=muscles, intensity=intensity) for t in group]
        phrase = words[0] if len(words) == 1 else "either " + " or ".join(words)
        if phrase not in phrases:
            phrases.append(phrase)
    return ", ".join(phrases)


def describe_au_code(text: str | None, *, muscles: bool = True, intensity: bool = False,
                     mirrored: bool = False) -> str | None:
    """Parse and describe a cell in one step (see :func:`parse_au_code` and :func:`describe`).

    Args:
        text: the cell as written.
        muscles: see :func:`describe_term`.
        intensity: see :func:`describe_term`.
        mirrored: describe the left-right mirrored face (see :meth:`AUCode.mirrored`).

    Raises:
        AUCodeError: see :func:`parse_au_code`.
    """
    code = parse_au_code(text)
    if code is not None and mirrored:
        code = code.mirrored()
    return describe(code, muscles=muscles, intensity=intensity)
