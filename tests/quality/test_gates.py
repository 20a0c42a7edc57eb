"""The faces and flow gates on their tables' columns, the suites as files, and the Data Docs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from mer.quality import GateError
from mer.quality.faces import validate_faces
from mer.quality.flow import validate_flow
from mer.quality.gate import SUITES, load_suite
from mer.stages.faces import FACES_SCHEMA
from mer.stages.flow import FLOW_SCHEMA


def _flow_row(folder: Path, clip: str, **changes: object) -> dict[str, object]:
    path = f"casme2/sub01/{clip}.npz"
    (folder / path).parent.mkdir(parents=True, exist_ok=True)
    (folder / path).write_bytes(b"npz")
    row: dict[str, object] = {
        "dataset": "casme2", "subject": "sub01", "clip": clip, "path": path, "label": "negative",
        "onset_frame": 1, "apex_frame": 4, "apex_estimated": False, "mean_magnitude": 0.5,
        "max_magnitude": 2.0, "finite": True, "min_frame_std": 30.0, "onset_apex_difference": 1.5}
    row.update(changes)
    return row


def _face_row(folder: Path, clip: str, **changes: object) -> dict[str, object]:
    path = f"casme2/sub01/{clip}.npz"
    (folder / path).parent.mkdir(parents=True, exist_ok=True)
    (folder / path).write_bytes(b"npz")
    row: dict[str, object] = {
        "dataset": "casme2", "subject": "sub01", "clip": clip, "path": path, "n_frames": 5,
        "status": "aligned", "detector": "hog", "score": 1.0, "inter_ocular": 40.0,
        "residual": 1.0, "reason": None}
    row.update(changes)
    return row


def test_suites_are_ge_suites_with_one_rule_per_expectation() -> None:
    names = sorted(path.stem for path in SUITES.glob("*.json"))
    assert names == ["clip_frames", "clips", "faces", "flow"]
    for name in names:
        suite = load_suite(name)
        assert suite["name"] == name
        assert all(e["type"].startswith("expect_") for e in suite["expectations"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"mean_magnitude": 25.0, "max_magnitude": 30.0}, "mean flow magnitude within 0..20.0 px"),
        ({"max_magnitude": 0.1}, "largest flow magnitude >= mean"),
        ({"finite": False}, "flow values are finite"),
        ({"onset_apex_difference": 0.0}, "apex differs from onset"),
        ({"label": "angry"}, "label is one of negative/positive/surprise or empty"),
        ({"dataset": "casme2", "subject": "sub02"}, "(dataset, clip) is unique"),
    ],
)
def test_flow_defect_fails_its_rule(tmp_path: Path, changes: dict[str, object], rule: str) -> None:
    clip = "EP01" if "subject" in changes else "EP02"  # same clip name again: a duplicate key
    table = pa.Table.from_pylist([_flow_row(tmp_path, "EP01"), _flow_row(tmp_path, clip,
                                                                          **changes)],
                                 schema=FLOW_SCHEMA)
    report = validate_flow(table, tmp_path, 20.0)
    failed = [check.rule for check in report.checks if not check.success]
    assert failed == [rule]
    assert f"breaks '{rule}'" in str(GateError(report))


@pytest.mark.slow
def test_missing_flow_file_names_the_clip(tmp_path: Path) -> None:
    rows = [_flow_row(tmp_path, "EP01"), _flow_row(tmp_path, "EP02")]
    (tmp_path / "casme2/sub01/EP02.npz").unlink()
    report = validate_flow(pa.Table.from_pylist(rows, schema=FLOW_SCHEMA), tmp_path, 20.0)
    assert str(GateError(report)) == (
        "gate 'flow' (clip casme2/EP02): breaks 'the flow file exists'")


@pytest.mark.slow
def test_faces_thresholds_scale_with_the_crop(tmp_path: Path) -> None:
    rows = [_face_row(tmp_path, "EP01"), _face_row(tmp_path, "EP02", inter_ocular=95.0),
            _face_row(tmp_path, "EP03", status="no_face", path=None, inter_ocular=None,
                      residual=None, reason="no face")]
    table = pa.Table.from_pylist(rows, schema=FACES_SCHEMA)
    small = validate_faces(table, tmp_path, 128)
    assert [c.rule for c in small.checks if not c.success] == [
        "inter-ocular distance within 19..90 px"]
    assert small.n_rows == 3 and [d["clip"] for d in small.dropped] == ["EP03"]
    assert validate_faces(table, tmp_path, 256).success


@pytest.mark.slow
def test_data_docs_render_the_run_and_replace_the_last(tmp_path: Path) -> None:
    folder = tmp_path / "flow"
    table = pa.Table.from_pylist([_flow_row(tmp_path, "EP01", finite=False)], schema=FLOW_SCHEMA)
    for _ in range(2):
        report = validate_flow(table, tmp_path, 20.0, data_docs=folder)
    assert not report.success
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "flow" in index
    pages = sorted((folder / "validations").rglob("*.html"))
    assert len(pages) == 1  # the second run's site replaced the first's
    page = pages[0].read_text(encoding="utf-8")
    assert "finite" in page and "Failed" in page
    assert (folder / "expectations" / "flow.html").is_file()
    assert not list(tmp_path.glob(".flow.*"))
    assert json.loads(report.to_json())["checks"][3]["rule"] == "flow values are finite"
