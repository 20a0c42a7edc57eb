"""Stage `validate`: the JSON report, the Data Docs beside it, and the failure naming the clip."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mer.data.schema import CLIP_SCHEMA
from mer.quality import GateError
from mer.stages import validate


@pytest.mark.slow
def test_failing_gate_writes_report_and_data_docs_then_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "raw" / "sub01" / "EP01"
    folder.mkdir(parents=True)
    for number in (1, 2, 3):
        (folder / f"img{number}.jpg").write_bytes(b"x")
    row = {"dataset": "casme2", "subject": "sub01", "clip": "EP01", "root": str(tmp_path / "raw"),
           "frames": [f"sub01/EP01/img{n}.jpg" for n in (1, 2, 3)], "frame_numbers": [1, 2, 3],
           "onset": 1, "apex": 3, "offset": 2, "fps": 30.0, "action_units": "12",
           "emotion": "happiness", "label": "positive",
           "source_file": "sheet.xlsx", "source_row": 4}
    pq.write_table(pa.Table.from_pylist([row], schema=CLIP_SCHEMA), tmp_path / "clips.parquet")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"data": {"corpora": [{"format": "casme2", "root": "raw"}]}}))
    monkeypatch.chdir(tmp_path)  # the Data Docs folder relative, as dvc.yaml gives it
    docs = tmp_path / "data_docs" / "clips"
    argv = ["clips", "--table", str(tmp_path / "clips.parquet"), "--report",
            str(tmp_path / "clips.json"), "--params", str(tmp_path / "params.yaml"),
            "--data-docs", "data_docs/clips"]
    with pytest.raises(GateError, match=r"sheet\.xlsx row 4 \(clip casme2/EP01\): breaks "
                                        r"'apex <= offset'"):
        validate.main(argv)
    report = json.loads((tmp_path / "clips.json").read_text())
    assert not report["success"] and report["n_rows"] == 1
    assert (docs / "index.html").is_file()
    assert {p.name for p in (docs / "expectations").glob("*.html")} == {"clips.html",
                                                                       "clip_frames.html"}
