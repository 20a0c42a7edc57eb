"""A tiny DVC project (git + two `python -c` stages, reproduced) for the lineage tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}

PREPARE = (
    "import pathlib,yaml; n=yaml.safe_load(open('params.yaml'))['prepare']['n']; "
    "d=pathlib.Path('data/features'); d.mkdir(parents=True, exist_ok=True); "
    "[d.joinpath(f'f{i}.txt').write_text(str(i*i)) for i in range(n)]"
)
EVALUATE = (
    "import json,pathlib,yaml; s=yaml.safe_load(open('params.yaml'))['evaluate']['scale']; "
    "v=sum(int(p.read_text()) for p in sorted(pathlib.Path('data/features').iterdir())); "
    "pathlib.Path('reports').mkdir(exist_ok=True); "
    "pathlib.Path('reports/metrics.json').write_text("
    "json.dumps({'m1': {'all': {'score': v*s, 'score_ci': [v, v*s]}}}, sort_keys=True))"
)


def run(argv: list[str], cwd: Path) -> str:
    """Run a command in ``cwd``; fail the test with its output when it fails."""
    env = {**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1"}
    process = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert process.returncode == 0, f"{argv} failed:\n{process.stdout}\n{process.stderr}"
    return process.stdout


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


@pytest.fixture(scope="module")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build once: git init, dvc init, two stages, dvc repro, commit."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("tiny") / "project"
    root.mkdir()
    run(["git", "init", "--quiet"], root)
    run(dvc("init", "--quiet"), root)
    (root / "params.yaml").write_text("prepare:\n  n: 3\nevaluate:\n  scale: 2\n")
    py = sys.executable
    stages = {"stages": {
        "prepare": {"cmd": f'{py} -c "{PREPARE}"', "params": ["prepare"],
                    "outs": ["data/features"]},
        "evaluate": {"cmd": f'{py} -c "{EVALUATE}"', "deps": ["data/features"],
                     "params": ["evaluate"],
                     "metrics": [{"reports/metrics.json": {"cache": False}}]},
    }}
    (root / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    (root / ".gitignore").write_text("/reports/\n")
    run(dvc("repro", "--quiet"), root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "--quiet", "-m", "tiny pipeline"], root)
    return root


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced project (tests may break it)."""
    copy = tmp_path / "project"
    shutil.copytree(built_project, copy, symlinks=True)
    return copy
