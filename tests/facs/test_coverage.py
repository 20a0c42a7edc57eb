"""Every AU code of the synthetic corpus and of the real coding sheets parses and is described."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mer.data.readers import casme2, casme3, mmew, samm
from mer.data.readers.common import ReaderPolicy
from mer.facs import FACS, describe, parse_au_code
from mer.synth import SynthConfig, generate

#: The default corpus's sheets with short clips and one macro sequence (the AU codes are drawn
#: per clip, so the sheets hold the same kinds of codes; about 6 s instead of 20).
SHORT_CLIPS = SynthConfig(micro_max_frames=8, smic_max_frames=8, macro_subjects=1,
                          macro_sequences=1, macro_frames=(6, 8))


#: (reader, sheet under the shared annotations folder)
SHEETS = [
    (casme2, "casme2/CASME2-coding-20140508.xlsx"),
    (casme2, "casme2/CASME2-coding-20190701.xlsx"),
    (samm, "samm/SAMM_Micro_FACS_Codes_v2.xlsx"),
    (casme3, "casme3/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"),
    (mmew, "mmew/MMEW_Micro_Exp_delete_others.csv"),
]


def _check_all(codes: list[str | None], where: str) -> set[int]:
    """Parse every cell; return the AU numbers seen. Fails naming the first bad cell."""
    numbers: set[int] = set()
    for text in codes:
        code = parse_au_code(text)  # raises AUCodeError naming the code
        if code is None or code.uncoded:
            continue
        assert code.numbers, f"{where}: {text!r} has no AU"
        assert set(code.numbers) <= set(FACS)
        assert describe(code), f"{where}: {text!r} has no description"
        assert describe(code.mirrored())
        numbers |= set(code.numbers)
    return numbers


@pytest.mark.slow
def test_the_synthetic_corpus_codes_are_covered(tmp_path: Path) -> None:
    generate(tmp_path, 0, SHORT_CLIPS)
    sheets = [(casme2, tmp_path / "micro/casme2/CASME2-coding-synthetic.xlsx"),
              (samm, tmp_path / "micro/samm/SAMM_Micro_FACS_Codes_synthetic.xlsx")]
    numbers = set()
    for reader, sheet in sheets:
        codes = reader.parse(sheet, ReaderPolicy()).table.column("action_units").to_pylist()
        assert len(codes) > 40
        numbers |= _check_all(codes, str(sheet))
    assert numbers >= {4, 7, 12}


@pytest.mark.parametrize(("reader", "sheet"), SHEETS, ids=[s for _, s in SHEETS])
def test_the_real_sheet_codes_are_covered(reader, sheet: str, shared_annotations: Path,  # noqa: ANN001
                                          caplog: pytest.LogCaptureFixture) -> None:
    path = shared_annotations / sheet
    if not path.exists():
        pytest.skip(f"{path} absent")
    with caplog.at_level(logging.ERROR):
        table = reader.parse(path, ReaderPolicy(on_defect="estimate_apex")).table
    codes = table.column("action_units").to_pylist()
    assert len(codes) > 100
    numbers = _check_all(codes, sheet)
    assert {4, 12} <= numbers
