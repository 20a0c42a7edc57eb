"""Hostile coding sheets (CASME II, SAMM, CAS(ME)^3 xlsx; MMEW csv): DataError or a drop, never
a crash, a hang, or a write to the sheet.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mer.data.errors import DataError
from mer.data.readers import ReaderPolicy, ReadResult, casme2, casme3, mmew, parse_annotations, samm

FORMATS = ("casme2", "samm", "casme3", "mmew")
POLICIES = ("drop", "fail", "estimate_apex")
READ_COLUMNS = {"casme2": casme2.COLUMNS, "samm": samm.COLUMNS, "casme3": casme3.COLUMNS,
                "mmew": mmew.COLUMNS}
SAMM_PREAMBLE = [["SAMM Micro-Movement FACS Codes"], None, ["Version 2", "2018"],
                 *[[f"note {i}", None, 3.5] for i in range(10)]]  # 13 rows, header on row 14


def _rows(sheets: Any, format: str) -> list[list[Any] | None]:
    preamble = SAMM_PREAMBLE if format == "samm" else []
    return [*preamble, list(sheets.headers[format]), *[list(r) for r in sheets.rows[format]]]


def _read(outcome, folder: Path, name: str, data: bytes, format: str,
          policy: str = "drop", snapshot=None):
    """Write the sheet, read it, check the contract and that the folder is unchanged."""
    path = folder / name
    path.write_bytes(data)
    before = snapshot(folder) if snapshot else None
    result = outcome(lambda: parse_annotations(format, path, ReaderPolicy(policy)), path.name)
    if snapshot:
        assert snapshot(folder) == before
    return result


def _columns(sheets: Any, format: str) -> list[int]:
    """The positions of the columns the reader reads."""
    return [sheets.headers[format].index(name) for name in READ_COLUMNS[format]]


# --- one hostile value in each named column, every format (csv container: fast) -------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("format", FORMATS)
def test_each_hostile_value_in_each_column(format: str, sheets, outcome, tmp_path: Path) -> None:
    """len(HOSTILE_CELLS) values x 7 read columns, each read on its own (~450 per format)."""
    base = _rows(sheets, format)
    header_at = base.index(sheets.headers[format])
    errors = 0
    for value in sheets.hostile:
        for column in _columns(sheets, format):
            rows = [list(r) if r else r for r in base]
            rows[header_at + 1][column] = value
            result = _read(outcome, tmp_path, "sheet.csv", sheets.csv(rows), format)
            errors += isinstance(result, DataError)
    assert errors > 0  # the hostile values are not all silently accepted


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("format", ["casme2", "samm", "casme3"])
def test_typed_hostile_values_in_xlsx(format: str, sheets, outcome, tmp_path: Path) -> None:
    """Typed hostile xlsx cells (int, float, bool, blank): all read columns, then each frame or
    subject column alone (10 values x 5 reads)."""
    base = _rows(sheets, format)
    header_at = base.index(sheets.headers[format])
    typed = [None, -1, 2**31, 2**63, 2**70, 1e308, 1.5, float("nan"), float("inf"), True]
    for value in typed:
        rows = [list(r) if r else r for r in base]
        for column in _columns(sheets, format):
            rows[header_at + 1][column] = value
        # every read column at once, then the frame and subject columns alone
        _read(outcome, tmp_path, "sheet.xlsx", sheets.xlsx(rows), format, snapshot=None)
        for name in READ_COLUMNS[format]:
            if "Frame" in name or name in ("Onset", "Apex", "Offset", "Subject"):
                rows = [list(r) if r else r for r in base]
                rows[header_at + 1][sheets.headers[format].index(name)] = value
                _read(outcome, tmp_path, "sheet.xlsx", sheets.xlsx(rows), format)


# --- hypothesis: random mutations of a valid sheet ------------------------------------------

CELL = st.one_of(
    st.none(),
    st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.from_regex(r"\s*[0-9]{1,12}\s*", fullmatch=True),
    st.sampled_from(["/", "Happiness", "others", "sub01", "006", "spNO.1", "S01-01-001", ".."]),
)


@st.composite
def mutated_sheet(draw: st.DrawFn, sheets: Any) -> tuple[str, list[list[Any] | None]]:
    format = draw(st.sampled_from(FORMATS))
    rows = [list(r) if r else r for r in _rows(sheets, format)]
    data_at = rows.index(sheets.headers[format]) + 1
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.integers(data_at, len(rows) - 1))
        column = draw(st.integers(0, len(sheets.headers[format]) + 1))
        while len(rows[row]) <= column:
            rows[row].append(None)
        rows[row][column] = draw(CELL)
    if draw(st.booleans()):  # a whole random row appended
        rows.append(draw(st.lists(CELL, max_size=14)))
    return format, rows


@pytest.mark.timeout(60)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), container=st.sampled_from(["xlsx", "csv"]),
       policy=st.sampled_from(POLICIES))
def test_random_mutations_of_a_valid_sheet(data, container: str, policy: str, sheets, outcome,
                                           snapshot) -> None:
    format, rows = data.draw(mutated_sheet(sheets))
    content = sheets.xlsx(rows) if container == "xlsx" else sheets.csv(rows)
    with tempfile.TemporaryDirectory() as folder:
        result = _read(outcome, Path(folder), f"sheet.{container}", content, format, policy,
                       snapshot)
    if isinstance(result, ReadResult) and policy == "fail":
        assert not result.dropped


@pytest.mark.timeout(60)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(format=st.sampled_from(FORMATS),
       grid=st.lists(st.lists(CELL, max_size=12), max_size=12))
def test_random_grid_under_a_valid_header(format: str, grid, sheets, outcome) -> None:
    rows = [list(sheets.headers[format]), *grid]
    with tempfile.TemporaryDirectory() as folder:
        _read(outcome, Path(folder), "sheet.csv", sheets.csv(rows), format)


@pytest.mark.timeout(60)
@settings(max_examples=60, deadline=None)
@given(format=st.sampled_from(FORMATS), content=st.binary(max_size=2000),
       suffix=st.sampled_from([".csv", ".xlsx", ".CSV", ".xls", ""]))
def test_random_bytes_as_a_sheet(format: str, content: bytes, suffix: str, outcome) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _read(outcome, Path(folder), f"sheet{suffix}", content, format)


# --- structure: columns, header, size, encodings ---------------------------------------------

STRUCTURAL_KINDS = (
    "missing_each_column", "extra_columns", "duplicated_header", "duplicated_row", "header_only",
    "empty_file", "header_below_search", "all_blank", "header_twice", "thousands_of_rows",
    "crlf_bom", "cr_only", "nul_bytes", "utf16", "latin1", "long_field", "wide_row",
    "unicode_everywhere")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", STRUCTURAL_KINDS)
@pytest.mark.parametrize("format", FORMATS)
def test_structural_hostility(format: str, kind: str, sheets, outcome, snapshot,
                              tmp_path: Path) -> None:
    header = list(sheets.headers[format])
    base = _rows(sheets, format)
    named = [name for name in header if name]
    read = lambda name, data, **kw: _read(outcome, tmp_path, name, data, format,  # noqa: E731
                                          snapshot=snapshot, **kw)
    if kind == "missing_each_column":
        for name in named:
            rows = [[c for c, h in zip(r, header) if h != name] if r else r for r in base]
            error = read("sheet.csv", sheets.csv(rows))
            if name in ("Subject",):
                assert isinstance(error, DataError)
            elif name not in ("Inducement Code", "Duration", "Micro", "Objective Classes",
                              "Notes", "Objective class", "remarks"):
                assert isinstance(error, DataError) and name in error.rule
    elif kind == "extra_columns":
        rows = [[*r, "extra", 1e308, None, "😀"] if r else r for r in base]
        rows[base.index(sheets.headers[format])][-4:] = ["Extra", "Huge", None, "Emoji"]
        assert isinstance(read("sheet.xlsx", sheets.xlsx(rows)), ReadResult)
    elif kind == "duplicated_header":
        header_at = base.index(sheets.headers[format])
        for name in READ_COLUMNS[format]:  # a second column named like one the reader reads
            for extra in ("copy", "999"):
                rows = [list(r) if r else r for r in base]
                for row in rows[header_at + 1:]:
                    row.append(row[header.index(name)] if extra == "copy" else extra)
                rows[header_at].append(name)
                result = read("sheet.csv", sheets.csv(rows))
                assert isinstance(result, DataError) and "duplicate column" in result.rule, name
        rows = [list(r) if r else r for r in base]  # a duplicated unread column is harmless
        rows[header_at].append("Notes2")
        rows[header_at][-1] = rows[header_at][-2] if format == "samm" else "x"
        rows[header_at].append("x")
        assert isinstance(read("sheet.csv", sheets.csv(rows)), ReadResult)
    elif kind == "duplicated_row":
        rows = [*base, base[-1]]
        result = read("sheet.xlsx", sheets.xlsx(rows))
        assert isinstance(result, DataError) and "duplicate clip" in result.rule
    elif kind == "header_only":
        result = read("sheet.xlsx", sheets.xlsx([header]))
        assert isinstance(result, DataError) and "no clip rows" in result.rule
    elif kind == "empty_file":
        assert isinstance(read("sheet.csv", b""), DataError)
        assert isinstance(read("sheet.xlsx", b""), DataError)
    elif kind == "header_below_search":
        rows = [*([["junk"]] * 60), *base]
        result = read("sheet.csv", sheets.csv(rows))
        assert isinstance(result, DataError) and "no header row" in result.rule
    elif kind == "all_blank":
        assert isinstance(read("sheet.csv", b",,,\n" * 500), DataError)
    elif kind == "header_twice":
        rows = [*base, header, *sheets.rows[format]]
        assert isinstance(read("sheet.csv", sheets.csv(rows)), DataError)
    elif kind == "thousands_of_rows":
        rows = [header]
        template = sheets.rows[format][0]
        for i in range(3000):
            row = list(template)
            row[header.index("Filename")] = f"{row[header.index('Filename')]}_{i}"
            if format == "casme3":
                row[header.index("Onset")] = str(166 + i)
                row[header.index("Apex")] = str(170 + i)
                row[header.index("Offset")] = str(190 + i)
            rows.append(row)
        result = read("sheet.csv", sheets.csv(rows))
        assert isinstance(result, ReadResult) and result.table.num_rows == 3000
    elif kind == "crlf_bom":
        result = read("sheet.csv", sheets.csv(base, newline="\r\n", bom=True))
        assert isinstance(result, ReadResult) and result.table.num_rows >= 1
    elif kind == "cr_only":
        read("sheet.csv", sheets.csv(base, newline="\r"))
    elif kind == "nul_bytes":
        data = sheets.csv(base).replace(b",", b",\x00", 3)
        read("sheet.csv", data)
    elif kind == "utf16":
        text = sheets.csv(base).decode("utf-8")
        assert isinstance(read("sheet.csv", text.encode("utf-16")), DataError)
    elif kind == "latin1":
        data = sheets.csv(base) + "\n1,caf\xe9,1,2,3,4,happiness\n".encode("latin-1")
        assert isinstance(read("sheet.csv", data), DataError)
    elif kind == "long_field":
        data = sheets.csv(base) + b'1,"' + b"x" * 200_000 + b'",1,2,3\n'
        assert isinstance(read("sheet.csv", data), DataError)
    elif kind == "wide_row":
        rows = [*base, [*base[-1], *(["x"] * 5000)]]
        read("sheet.csv", sheets.csv(rows))
    elif kind == "unicode_everywhere":
        rows = [[f"\u202e{c}\u0301😀" if c is not None else c for c in r] if r else r
                for r in base]
        rows[base.index(sheets.headers[format])] = header
        assert isinstance(read("sheet.csv", sheets.csv(rows)), DataError)


# --- corrupt .xlsx bytes ---------------------------------------------------------------------

def _valid_xlsx(sheets: Any, format: str) -> bytes:
    return sheets.xlsx(_rows(sheets, format))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("format", ["casme2", "samm", "casme3"])
def test_truncated_xlsx(format: str, sheets, outcome, snapshot, tmp_path: Path) -> None:
    """Every 64th truncation point of a valid workbook (~80 cuts per format)."""
    data = _valid_xlsx(sheets, format)
    for cut in range(0, len(data), 64):
        result = _read(outcome, tmp_path, "sheet.xlsx", data[:cut], format, snapshot=snapshot)
        assert isinstance(result, DataError)


@pytest.mark.timeout(60)
@settings(max_examples=60, deadline=None)
@given(format=st.sampled_from(["casme2", "samm", "casme3"]),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_bit_flipped_xlsx(format: str, flips, sheets, outcome) -> None:
    data = bytearray(_valid_xlsx(sheets, format))
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    with tempfile.TemporaryDirectory() as folder:
        _read(outcome, Path(folder), "sheet.xlsx", bytes(data), format)


def _rewrite_member(data: bytes, member: str, content: bytes | None) -> bytes:
    """Return the workbook with one zip member replaced (or removed when None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info))
            elif content is not None:
                dst.writestr(info, content)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _sheet_xml(rows: str) -> bytes:
    return f'<?xml version="1.0"?><worksheet {_NS}><sheetData>{rows}</sheetData></worksheet>' \
        .encode()


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


CASME2_HEADER_XML = '<row r="1">' + "".join(
    _inline(f"{col}1", name) for col, name in zip("ABDEFHI", [
        "Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
        "Estimated Emotion"])) + "</row>"
CORRUPT_MEMBERS = {
    "sheet_garbage": (SHEET, b"\x00\xff not xml at all"),
    "sheet_truncated_xml": (SHEET, _sheet_xml(CASME2_HEADER_XML)[:150]),
    "sheet_missing": (SHEET, None),
    "workbook_missing": ("xl/workbook.xml", None),
    "content_types_missing": ("[Content_Types].xml", None),
    "styles_garbage": ("xl/styles.xml", b"<styleSheet><<<"),
    "shared_strings_garbage": ("xl/sharedStrings.xml", b"<sst><si><t>x</si>"),
    "number_nan": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="A2"><v>1</v></c>'
                                     + _inline("B2", "EP01") + '<c r="D2"><v>NaN</v></c>'
                                     '<c r="E2"><v>inf</v></c><c r="F2"><v>1e999</v></c>'
                                     + _inline("I2", "happiness") + "</row>")),
    "number_text": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="A2"><v>abc</v></c>'
                                      "</row>")),
    "bad_cell_ref": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="ZZZZZZ9"><v>1</v>'
                                       "</c></row>")),
    "negative_row": (SHEET, _sheet_xml('<row r="-5">' + _inline("A-5", "x") + "</row>")),
    "bad_shared_index": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="A2" t="s">'
                                           "<v>99999</v></c></row>")),
    "bad_date": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="D2" t="d"><v>not-a-'
                                   "date</v></c></row>")),
    "bad_bool": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="D2" t="b"><v>x</v>'
                                   "</c></row>")),
    "error_cell": (SHEET, _sheet_xml(CASME2_HEADER_XML + '<row r="2"><c r="A2" t="e">'
                                     "<v>#DIV/0!</v></c></row>")),
    "billion_laughs": (SHEET, b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                       + b"".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'.encode()
                                  for p, c in zip("abcdefgh", "bcdefghi"))
                       + f"]><worksheet {_NS}><sheetData><row r=\"1\">".encode()
                       + b'<c r="A1" t="inlineStr"><is><t>&i;</t></is></c></row></sheetData>'
                       + b"</worksheet>"),
    "external_entity": (SHEET, b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM '
                        b'"file:///etc/passwd">]>'
                        + f'<worksheet {_NS}><sheetData><row r="1">'.encode()
                        + b'<c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row></sheetData>'
                        + b"</worksheet>"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(CORRUPT_MEMBERS))
def test_corrupt_xlsx_members(case: str, sheets, outcome, snapshot, tmp_path: Path) -> None:
    member, content = CORRUPT_MEMBERS[case]
    data = _rewrite_member(_valid_xlsx(sheets, "casme2"), member, content)
    result = _read(outcome, tmp_path, "sheet.xlsx", data, "casme2", snapshot=snapshot)
    if isinstance(result, ReadResult):  # only a read that makes sense may succeed
        assert "root:" not in str(result.table.to_pylist())


@pytest.mark.timeout(30)
def test_not_a_file(outcome, tmp_path: Path) -> None:
    (tmp_path / "sheet.xlsx").mkdir()
    for format in FORMATS:
        assert isinstance(outcome(lambda: parse_annotations(format, tmp_path / "sheet.xlsx"),
                                  "sheet.xlsx"), DataError)
        assert isinstance(outcome(lambda: parse_annotations(format, tmp_path / "nope.csv"),
                                  "nope.csv"), DataError)
