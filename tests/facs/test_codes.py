"""The AU-code parser on the quirks of the real sheets, and the descriptions it gives."""

from __future__ import annotations

import pytest

from mer.facs import FACS, AUCodeError, AUTerm, describe, describe_au_code, parse_au_code


def _terms(text: str) -> list[tuple[AUTerm, ...]]:
    code = parse_au_code(text)
    assert code is not None
    return list(code.groups)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4+R12", [AUTerm(4), AUTerm(12, side="right")]),
        ("R12B+R15A", [AUTerm(12, side="right", intensity="B"),
                       AUTerm(15, side="right", intensity="A")]),
        ("1+2+5", [AUTerm(1), AUTerm(2), AUTerm(5)]),
        ("12+15 ", [AUTerm(12), AUTerm(15)]),  # trailing space (SAMM)
        (" R15", [AUTerm(15, side="right")]),  # leading space (SAMM)
        ("L10", [AUTerm(10, side="left")]),
        ("A1", [AUTerm(1, asymmetric=True)]),  # SAMM: asymmetric, not intensity
        ("1A", [AUTerm(1, intensity="A")]),  # intensity A
        ("A1B+A2C", [AUTerm(1, asymmetric=True, intensity="B"),
                     AUTerm(2, asymmetric=True, intensity="C")]),
        ("A/L12", [AUTerm(12, side="left", asymmetric=True)]),
        ("B18+25", [AUTerm(18, lip="bottom"), AUTerm(25)]),  # bottom lip, not intensity
        ("12B", [AUTerm(12, intensity="B")]),
        ("T18+39", [AUTerm(18, lip="top"), AUTerm(39)]),
        ("10A/B", [AUTerm(10, intensity="A/B")]),
        ("12L", [AUTerm(12, side="left")]),  # MMEW writes the side after the number
        ("4R+7", [AUTerm(4, side="right"), AUTerm(7)]),
        ("ref(7B)+43C", [AUTerm(7, intensity="B", reference=True), AUTerm(43, intensity="C")]),
        ("7B+ ref(43)", [AUTerm(7, intensity="B"), AUTerm(43, reference=True)]),
        ("L12 + 61", [AUTerm(12, side="left"), AUTerm(61)]),
        ("l12+r14", [AUTerm(12, side="left"), AUTerm(14, side="right")]),  # case-insensitive
    ],
)
def test_real_sheet_quirks_parse(text: str, expected: list[AUTerm]) -> None:
    assert _terms(text) == [(term,) for term in expected]


def test_alternatives_are_one_group() -> None:
    assert _terms("(R6 or R12) + R15") == [
        (AUTerm(6, side="right"), AUTerm(12, side="right")), (AUTerm(15, side="right"),)]
    assert _terms("R14A or 17A or 24A") == [
        (AUTerm(14, side="right", intensity="A"), AUTerm(17, intensity="A"),
         AUTerm(24, intensity="A"))]


def test_notes_uncoded_and_blank_cells() -> None:
    code = parse_au_code("R14+17+soft focus")
    assert code is not None and code.numbers == (14, 17) and code.notes == ("soft focus",)
    uncoded = parse_au_code("?")
    assert uncoded is not None and uncoded.uncoded and uncoded.groups == ()
    assert describe(uncoded) is None
    assert parse_au_code(None) is None and parse_au_code("  ") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("40", "AU 40 is not a FACS code"),
        ("4+99", "AU 99 is not a FACS code"),
        ("X5", "not an action unit"),
        ("4++7", "empty term"),
        ("4+", "empty term"),
        ("B4", "lip AUs"),  # B (bottom lip) only for lip AUs; 4B would be intensity
        ("L12R", "side written both"),
        ("(5)", "alternatives"),
        ("(R6 or R12", "unbalanced"),
        ("happy", "not an action unit"),
    ],
)
def test_unknown_codes_fail_naming_the_code_and_term(text: str, message: str) -> None:
    with pytest.raises(AUCodeError, match=message) as error:
        parse_au_code(text)
    assert repr(text) in str(error.value)


def test_description_reads_as_facs() -> None:
    assert describe_au_code("1+R12") == (
        "inner brow raiser (frontalis, pars medialis), "
        "lip corner puller on the right (zygomaticus major)")
    assert describe_au_code("4") == ("brow lowerer (depressor glabellae, depressor supercilii, "
                                     "corrugator supercilii)")
    assert describe_au_code("(R6 or R12)+R15", muscles=False) == (
        "either cheek raiser on the right or lip corner puller on the right, "
        "lip corner depressor on the right")
    assert describe_au_code("A/L12", muscles=False) == (
        "asymmetric lip corner puller stronger on the left")
    assert describe_au_code("B28", muscles=False) == "lip suck of the lower lip"
    assert describe_au_code("R12B+10A/B", muscles=False, intensity=True) == (
        "trace to slight upper lip raiser, slight lip corner puller on the right")


def test_description_is_canonical() -> None:
    assert describe_au_code("6+4") == describe_au_code("4+6") == describe_au_code("4+6+4")
    assert describe_au_code("12B") == describe_au_code("12")  # intensity only when asked


def test_mirroring_swaps_sides_and_lateral_head_eye_codes() -> None:
    assert describe_au_code("4+R12", mirrored=True, muscles=False) == (
        "brow lowerer, lip corner puller on the left")
    assert describe_au_code("L12+61+51", mirrored=True, muscles=False) == (
        "lip corner puller on the right, head turn right, eyes turn right")
    assert describe_au_code("1+2", mirrored=True) == describe_au_code("1+2")


def test_the_table_names_the_common_action_units() -> None:
    expected = {1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer",
                5: "upper lid raiser", 6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler",
                10: "upper lip raiser", 12: "lip corner puller", 14: "dimpler",
                15: "lip corner depressor", 17: "chin raiser", 20: "lip stretcher",
                23: "lip tightener", 24: "lip pressor", 25: "lips part", 26: "jaw drop",
                43: "eyes closed", 45: "blink"}
    assert {n: FACS[n].name for n in expected} == expected
    assert FACS[12].muscles == "zygomaticus major"
    assert FACS[1].muscles == "frontalis, pars medialis"
    assert {FACS[n].kind for n in range(51, 59)} == {"head"}
    assert {FACS[n].kind for n in range(61, 65)} == {"eye"}
    assert not {3, 40, 47, 48, 49, 50} & set(FACS)
