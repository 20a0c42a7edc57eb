"""Merging an incoming batch into the raw data: all or nothing, even under SIGKILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mer.config import Params
from mer.data.errors import DataError
from mer.data.incoming import merge
from mer.stages.retrain import merged_folder

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())

#: A child process that merges one batch and SIGKILLs itself at the point named by argv[2]:
#: ``copy`` after two files are copied, ``commit`` right after the merged copy is in place.
KILLER = """
import os, shutil, signal, sys
from pathlib import Path
import yaml
from mer.config import Params
from mer.data.incoming import merge
from mer.stages.retrain import merged_folder

root, point = Path(sys.argv[1]), sys.argv[2]
params = Params.model_validate(yaml.safe_load((root / "params.yaml").read_text()))
copied = []
real_copy, real_rename = shutil.copyfile, Path.rename

def copy_then_die(src, dst, **kwargs):
    if point == "copy" and len(copied) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    copied.append(src)
    return real_copy(src, dst, **kwargs)

def rename_then_die(self, target):
    if point == "commit" and Path(target).name.startswith(".merged-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rename(self, target)

shutil.copyfile, Path.rename = copy_then_die, rename_then_die
merge(root / "data/incoming/lab-1", merged_folder(root, params))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """params.yaml, one merged batch already in the raw data, one batch waiting."""
    params = {**PARAMS, "data": {**PARAMS["data"], "incoming": "data/raw/incoming"},
              "retrain": {**PARAMS["retrain"], "incoming": "data/incoming"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for batch, n_files in (("data/raw/incoming/lab-0", 2), ("data/incoming/lab-1", 5)):
        for k in range(n_files):
            path = tmp_path / batch / "frames" / f"img{k}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes([k]) * 1000)
        (tmp_path / batch / "batch.yaml").write_text(f"format: casme2\nbatch: {batch}\n")
    return tmp_path


def _params(root: Path) -> Params:
    return Params.model_validate(yaml.safe_load((root / "params.yaml").read_text()))


def _merge(batch: Path, root: Path) -> Path:
    return merge(batch, merged_folder(root, _params(root)))


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file and folder under ``folder``, hidden ones included: relative path -> bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def _kill_during_merge(root: Path, point: str) -> None:
    child = subprocess.run([sys.executable, "-c", KILLER, str(root), point], check=False,
                           capture_output=True, text=True)
    assert child.returncode == -9, child.stderr


def test_merge_moves_the_batch_whole(project: Path) -> None:
    waiting = _tree(project / "data/incoming/lab-1")
    target = _merge(project / "data/incoming/lab-1", project)
    assert target == project / "data/raw/incoming/lab-1"
    assert _tree(target) == waiting
    assert list((project / "data/incoming").iterdir()) == []  # no hidden leftovers


def test_killed_while_copying_leaves_raw_data_and_the_batch_as_they_were(project: Path) -> None:
    raw, waiting = _tree(project / "data/raw"), _tree(project / "data/incoming/lab-1")
    _kill_during_merge(project, "copy")
    assert _tree(project / "data/raw") == raw
    assert _tree(project / "data/incoming/lab-1") == waiting
    _merge(project / "data/incoming/lab-1", project)  # the next run merges it
    assert _tree(project / "data/raw/incoming/lab-1") == waiting
    assert list((project / "data/incoming").iterdir()) == []


def test_killed_after_the_commit_the_next_run_only_tidies_up(project: Path) -> None:
    waiting = _tree(project / "data/incoming/lab-1")
    _kill_during_merge(project, "commit")
    assert _tree(project / "data/raw/incoming/lab-1") == waiting
    assert _tree(project / "data/incoming/lab-1") == waiting  # still waiting, whole
    _merge(project / "data/incoming/lab-1", project)
    assert _tree(project / "data/raw/incoming/lab-1") == waiting
    assert list((project / "data/incoming").iterdir()) == []


def test_a_different_batch_of_a_merged_name_is_refused(project: Path) -> None:
    batch = project / "data/incoming/lab-0"
    batch.mkdir()
    (batch / "batch.yaml").write_text("format: samm\n")
    raw = _tree(project / "data/raw")
    with pytest.raises(DataError, match="lab-0: a different batch named lab-0 was merged already"):
        _merge(batch, project)
    assert _tree(project / "data/raw") == raw and batch.is_dir()


def test_merging_without_data_incoming_is_refused(project: Path) -> None:
    params = _params(project).model_copy(
        update={"data": _params(project).data.model_copy(update={"incoming": None})})
    with pytest.raises(DataError, match="data.incoming is not set"):
        merged_folder(project, params)
