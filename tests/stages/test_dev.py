"""`mer dev`: the development project differs from this one only in the corpus seed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mer.stages.dev import LINKED, make_dev_project

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_dev_project_changes_only_the_corpus_seed(tmp_path: Path) -> None:
    out = make_dev_project(PROJECT_ROOT, tmp_path / "dev", seed=7)
    ours = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    theirs = yaml.safe_load((out / "params.yaml").read_text(encoding="utf-8"))
    assert theirs["synth"].pop("seed") == 7
    ours["synth"].pop("seed")
    assert theirs == ours
    assert (out / "dvc.yaml").read_bytes() == (PROJECT_ROOT / "dvc.yaml").read_bytes()
    for name in LINKED:
        assert (out / name).resolve() == (PROJECT_ROOT / name).resolve()
    assert (out / ".dvc").is_dir()
    assert make_dev_project(PROJECT_ROOT, out, seed=8) == out  # refreshing keeps the folder
    assert yaml.safe_load((out / "params.yaml").read_text("utf-8"))["synth"]["seed"] == 8


def test_the_evaluated_seed_is_refused(tmp_path: Path) -> None:
    seed = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text("utf-8"))["synth"]["seed"]
    with pytest.raises(ValueError, match="seed other than synth.seed"):
        make_dev_project(PROJECT_ROOT, tmp_path / "dev", seed=seed)
    assert not (tmp_path / "dev").exists()
