"""A corpus outside data/raw is tracked: an edited sheet row or frame makes ingest out of date."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
import yaml

from tests.flows.conftest import make_quick_project

CASME2 = "data/raw/synthetic/micro/casme2"


def _dvc(project: Path, *args: str) -> str:
    done = subprocess.run(["dvc", *args], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _emotions(project: Path) -> dict[tuple[str, str], str]:
    clips = pq.read_table(project / "data/interim/micro/clips.parquet").to_pylist()
    return {(clip["dataset"], clip["clip"]): clip["emotion"] for clip in clips}


@pytest.fixture
def outside(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A quick project whose CASME II corpus (frames and sheet) lives outside it; returns the
    project, the corpus root and the sheet, after a first ``dvc repro ingest@micro``."""
    project = make_quick_project(tmp_path / "project")
    _dvc(project, "repro", "synth")
    elsewhere = shutil.copytree(project / CASME2, tmp_path / "elsewhere" / "casme2")
    root = elsewhere / "CASME2_RAW_selected"
    sheet = next(elsewhere.glob("*.xlsx"))
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["corpora"][0].update(root=str(root), annotations=str(sheet))
    params["data"]["composite_gt"] = None  # keep every clip of the sheet
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    _dvc(project, "repro", "ingest@micro")
    assert "up to date" in _dvc(project, "status", "--with-deps", "ingest@micro")
    return project, root, sheet


@pytest.mark.slow
def test_edited_sheet_row_outside_data_raw_reruns_ingest(outside: tuple[Path, Path, Path]) -> None:
    project, _, sheet = outside
    before = _emotions(project)
    book = openpyxl.load_workbook(sheet)
    rows = book.active.iter_rows(values_only=False)
    header = [cell.value for cell in next(rows)]
    first = next(rows)
    emotion = first[header.index("Estimated Emotion")]
    emotion.value = "surprise" if emotion.value != "surprise" else "happiness"
    book.save(sheet)

    status = _dvc(project, "status", "--with-deps", "ingest@micro")
    assert "corpus_micro@0" in status and "modified:" in status and str(sheet) in status
    log = _dvc(project, "repro", "ingest@micro")
    assert "Running stage 'corpus_micro@0'" in log and "Running stage 'ingest@micro'" in log
    after = _emotions(project)
    changed = {clip for clip in before if before[clip] != after[clip]}
    assert len(changed) == 1 and after[changed.pop()] == emotion.value


@pytest.mark.slow
def test_edited_frame_outside_data_raw_reruns_ingest_and_faces(
        outside: tuple[Path, Path, Path]) -> None:
    project, root, _ = outside
    frame = sorted(p for p in root.rglob("*") if p.is_file())[0]
    fingerprints = project / "data/interim/corpora/micro/casme2/frames.parquet"
    before = pq.read_table(fingerprints).column("frames_sha256").to_pylist()
    frame.write_bytes(frame.read_bytes()[::-1])

    status = _dvc(project, "status", "--with-deps", "ingest@micro")
    assert "corpus_micro@0" in status and str(root) in status
    log = _dvc(project, "repro", "ingest@micro")
    assert "Running stage 'corpus_micro@0'" in log and "Running stage 'ingest@micro'" in log
    assert "up to date" in _dvc(project, "status", "--with-deps", "ingest@micro")
    after = pq.read_table(fingerprints).column("frames_sha256").to_pylist()
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1  # the edited clip
    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert "data/interim/corpora/${key}" in stages["faces"]["do"]["deps"]  # faces reads frames
