"""`mer export` end to end on small flow and faces tables written like the pipeline's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mer.cli import main
from mer.data.atomic import write_parquet
from mer.stages.faces import FACES_SCHEMA
from mer.stages.flow import FLOW_SCHEMA

CLIPS = (("casme2", "sub01", "sub01_EP02_01f", "positive"),
         ("samm", "006", "006_1_2", "surprise"),
         ("samm", "007", "007_1_1", None))


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    """Flow and faces tables and arrays for two labelled clips and one unlabelled."""
    flow_rows, face_rows = [], []
    for k, (dataset, subject, clip, label) in enumerate(CLIPS):
        relative = f"{dataset}/{subject}/{clip}.npz"
        field = np.full((32, 32), float(k), dtype=np.float32)
        (tmp_path / "flow" / dataset / subject).mkdir(parents=True, exist_ok=True)
        np.savez(tmp_path / "flow" / relative, u=field, v=-field, strain=field * 2)
        (tmp_path / "faces" / dataset / subject).mkdir(parents=True, exist_ok=True)
        np.savez(tmp_path / "faces" / relative, frames=np.full((3, 32, 32, 3), k, np.uint8),
                 frame_numbers=np.array([1, 2, 3], np.int32))
        flow_rows.append({"dataset": dataset, "subject": subject, "clip": clip,
                          "path": relative, "label": label, "onset_frame": 1, "apex_frame": 2,
                          "apex_estimated": False, "mean_magnitude": 0.0,
                          "max_magnitude": 0.0, "finite": True, "min_frame_std": 1.0,
                          "onset_apex_difference": 1.0})
        face_rows.append({"dataset": dataset, "subject": subject, "clip": clip,
                          "path": relative, "n_frames": 3, "status": "aligned"})
    write_parquet(tmp_path / "flow.parquet", pa.Table.from_pylist(flow_rows, schema=FLOW_SCHEMA))
    write_parquet(tmp_path / "faces.parquet",
                  pa.Table.from_pylist(face_rows, schema=FACES_SCHEMA))
    return tmp_path


def _args(root: Path, fmt: str, out: Path) -> list[str]:
    return ["export", "--format", fmt, "--out", str(out), "--flow", str(root / "flow.parquet"),
            "--flow-dir", str(root / "flow"), "--faces", str(root / "faces.parquet"),
            "--faces-dir", str(root / "faces")]


def test_export_writes_the_labelled_clips(pipeline: Path) -> None:
    assert main(_args(pipeline, "htnet", pipeline / "out")) == 0
    csv_text = (pipeline / "out" / "combined_3class_gt.csv").read_bytes().decode()
    assert csv_text == "casme2,sub01,EP02_01f,1\r\nsamm,6,006_1_2,2\r\n"
    face = pipeline / "out" / "datasets" / "combined_datasets_whole" / "sub01_EP02_01f.jpg"
    assert face.is_file()


def test_export_bad_input_is_one_line_exit_2_nothing_written(
        pipeline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pipeline / "flow" / "samm" / "006" / "006_1_2.npz").unlink()
    assert main(_args(pipeline, "npy", pipeline / "out")) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and "006_1_2.npz: file not found" in message
    assert not (pipeline / "out").exists()
    assert not [p for p in pipeline.iterdir() if p.name.startswith(".out")]
