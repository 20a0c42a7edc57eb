"""Hostile MEGC2019 composite csv files and CK+ emotion/FACS text files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mer.data.errors import DataError
from mer.data.readers import ckplus, read_ground_truth

VALID_GT = [["casme2", "sub01", "EP02_01f", "1"], ["samm", "6", "006_1_2", "0"],
            ["smic", "s01", "s01_ne_01", "0"]]
FIELD = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(["casme2", "samm", "smic", "CASME2", "0", "1", "2", "3", "-1", "1.0", "s01",
                     "s" + "9" * 5000, "sub" + "0" * 5000 + "1", "9" * 5000, "..", "/etc",
                     "C:\\x", "s01_", "_ne", "s٣_ne_01", "²", "\x00", "\u202e1", "😀"]),
)


# --- composite ground truth -------------------------------------------------------------------

@pytest.mark.timeout(60)
@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(FIELD, min_size=0, max_size=6), max_size=8),
       keep=st.integers(0, 3), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       bom=st.booleans())
def test_random_composite_rows(rows, keep: int, newline: str, bom: bool, sheets,
                               outcome) -> None:
    content = sheets.csv([*VALID_GT[:keep], *rows], newline=newline, bom=bom)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "gt.csv")
        path.write_bytes(content)
        result = outcome(lambda: read_ground_truth(path), "gt.csv")
        assert path.read_bytes() == content
    if not isinstance(result, DataError):
        assert all(item.label in ("negative", "positive", "surprise") for item in result)


@pytest.mark.timeout(60)
@settings(max_examples=80, deadline=None)
@given(content=st.binary(max_size=3000))
def test_random_bytes_as_composite(content: bytes, outcome) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "gt.csv")
        path.write_bytes(content)
        outcome(lambda: read_ground_truth(path), "gt.csv")


COMPOSITE_CASES = {
    "empty": b"",
    "blank_lines": b"\n\n ,, ,\n",
    "latin1": "casme2,sub01,caf\xe9,1\n".encode("latin-1"),
    "utf16": "casme2,sub01,EP02_01f,1\n".encode("utf-16"),
    "long_field": b"casme2,sub01," + b"x" * 200_000 + b",1\n",
    "nul": b"casme2,sub01,EP\x0002,1\n",
    "three_fields": b"casme2,sub01,1\n",
    "five_fields": b"casme2,sub01,EP02_01f,1,extra\n",
    "label_float": b"casme2,sub01,EP02_01f,1.0\n",
    "label_big": b"casme2,sub01,EP02_01f,18446744073709551616\n",
    "dotdot_clip": b"casme2,sub01,..,1\n",
    "abs_clip": b"samm,6,/etc/passwd,1\n",
    "huge_subject": b"samm," + b"9" * 5000 + b",006_1_2,1\n",
    "superscript_subject": "samm,²,006_1_2,1\n".encode(),
    "huge_smic_subject": b"smic,s" + b"9" * 5000 + b",s1_ne_01,0\n",
    "duplicate": b"casme2,1,EP02_01f,1\ncasme2,sub01,EP02_01f,2\n",
    "unterminated_quote": b'casme2,sub01,"EP02_01f,1\n',
    "header_row": b"dataset,subject,clip,label\ncasme2,sub01,EP02_01f,1\n",
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(COMPOSITE_CASES))
def test_composite_cases(case: str, outcome, tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    path.write_bytes(COMPOSITE_CASES[case])
    result = outcome(lambda: read_ground_truth(path), "gt.csv")
    assert isinstance(result, DataError), result


def test_thousands_of_composite_rows(outcome, tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    path.write_text("".join(f"samm,{i % 30},{i:03d}_1_{i},{i % 3}\r\n" for i in range(5000)),
                    encoding="utf-8-sig")
    result = outcome(lambda: read_ground_truth(path), "gt.csv")
    assert len(result) == 5000


# --- CK+ emotion and FACS files ---------------------------------------------------------------

TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.text(st.sampled_from("0123456789.eE+- \t\n\r"), max_size=60),
    st.sampled_from(["   3.0000000e+00", "nan", "inf", "-inf", "1e308", "1e309", "-0", "7.5",
                     "8", "-1", "1_0", "0x3", "3\x00", "\u0663", "   1.0e+00   2.0e+00", "9" * 5000,
                     "1 nan", "1 inf", "0 1", "1.5 2", "1e400 1", "1 2 3", ""]),
)


def _label_file(folder: Path, suffix: str, content: bytes) -> Path:
    path = folder / f"S005_001_00000011{suffix}"
    path.write_bytes(content)
    return path


@pytest.mark.timeout(60)
@settings(max_examples=100, deadline=None)
@given(text=TEXT, raw=st.binary(max_size=200), use_raw=st.booleans(),
       suffix=st.sampled_from([ckplus.EMOTION_SUFFIX, ckplus.FACS_SUFFIX]))
def test_random_label_file_contents(text: str, raw: bytes, use_raw: bool, suffix: str,
                                    outcome) -> None:
    content = raw if use_raw else text.encode("utf-8")
    read = ckplus.read_emotion if suffix == ckplus.EMOTION_SUFFIX else ckplus.read_facs
    with tempfile.TemporaryDirectory() as folder:
        path = _label_file(Path(folder), suffix, content)
        result = outcome(lambda: read(path), path.name)
    if not isinstance(result, DataError):
        if suffix == ckplus.EMOTION_SUFFIX:
            assert result in ckplus.EMOTION_CODES
        else:
            assert all(part.isdigit() and int(part) >= 1 for part in result.split("+"))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("suffix", [ckplus.EMOTION_SUFFIX, ckplus.FACS_SUFFIX])
def test_oversized_label_file(suffix: str, outcome, tmp_path: Path) -> None:
    path = _label_file(tmp_path, suffix, b"   3.0000000e+00\n" * 10_000)
    read = ckplus.read_emotion if suffix == ckplus.EMOTION_SUFFIX else ckplus.read_facs
    result = outcome(lambda: read(path), path.name)
    assert isinstance(result, DataError) and "larger than" in result.rule
