"""A small copy of the project (the real dvc.yaml, a quick params.yaml) for pipeline tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: A corpus small enough for a test: 2 subjects per micro corpus, short clips.
QUICK_SYNTH = {
    "casme2_subjects": 2, "samm_subjects": 2, "smic_subjects": 2, "macro_subjects": 2,
    "casme2_clips": 6, "casme2_others": 1, "samm_clips": 6, "samm_others": 1, "smic_clips": 6,
    "micro_max_frames": 8, "smic_max_frames": 8, "macro_sequences": 3, "macro_frames": [6, 8],
}


def quick_params() -> dict[str, object]:
    """The project's params.yaml with a small corpus, the baseline and one quick model."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["synth"]["config"] = QUICK_SYNTH
    params["flow"].update({"warps": 2, "outer_iterations": 2, "inner_iterations": 10})
    params["train"]["n_val_subjects"] = 0
    params["models"] = {"flow_logreg": params["models"]["flow_logreg"],
                        "ststnet": {"name": "ststnet", "train": {"epochs": 2}}}
    params["ablations"] = {"ststnet_wide": {"base": "ststnet", "hparams": {"dropout": 0.5}}}
    params["experiments"]["seeds"] = [0, 1]
    params["evaluate"]["n_resamples"] = 50
    return params


@pytest.fixture
def quick_synth() -> dict[str, object]:
    """The small corpus's SynthConfig overrides."""
    return dict(QUICK_SYNTH)


def make_quick_project(root: Path, **runtime: object) -> Path:
    """Make ``root`` a DVC project with the real dvc.yaml and a quick params.yaml (``runtime``
    overrides its runtime section)."""
    root.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dvc.yaml", root / "dvc.yaml")
    params = quick_params()
    params["runtime"].update(runtime)
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    for folder in ("mer", "flows"):  # stage deps name the code; link it, never copy
        (root / folder).symlink_to(PROJECT_ROOT / folder)
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    shutil.copy(PROJECT_ROOT / ".dvcignore", root / ".dvcignore")  # code deps skip __pycache__
    return root


@pytest.fixture
def quick_project(tmp_path: Path) -> Path:
    """A DVC project in tmp_path with the real dvc.yaml and a quick params.yaml."""
    return make_quick_project(tmp_path / "project")


@pytest.fixture(scope="session")
def project_factory() -> Callable[..., Path]:
    """:func:`make_quick_project`, for fixtures of a wider scope."""
    return make_quick_project
