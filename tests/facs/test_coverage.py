"""Every AU code of the synthetic corpus and of the real coding sheets parses and is described."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mer.data.readers import casme2, casme3, mmew, samm
from mer.data.readers.common import ReaderPolicy
from mer.facs import FACS, describe, parse_au_code

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC_CLIPS = PROJECT_ROOT / "data" / "interim" / "micro" / "clips.parquet"

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


def test_the_synthetic_corpus_codes_are_covered() -> None:
    if not SYNTHETIC_CLIPS.exists():
        pytest.skip(f"{SYNTHETIC_CLIPS} not built (dvc repro ingest@micro)")
    codes = pq.read_table(SYNTHETIC_CLIPS, columns=["action_units"]).column(0).to_pylist()
    assert _check_all(codes, str(SYNTHETIC_CLIPS)) >= {4, 7, 12}


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
