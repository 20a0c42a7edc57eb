"""Every dvc.yaml stage lists, among its deps, every project file its command imports.

Otherwise an edit of that file leaves old models and metrics in place: ``dvc repro`` promises
to rebuild what changed. The imports are followed with ``ast`` from the module `mer COMMAND`
dispatches to (``mer.cli.COMMANDS``), through every project module it imports, at any depth and
inside functions too (lazy imports count).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from dvc.repo import Repo

from mer.cli import COMMANDS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mer", "flows")


def _module_file(name: str) -> Path | None:
    """The project file of module ``name`` (``a.b`` -> a/b.py or a/b/__init__.py), if any."""
    base = PROJECT_ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_modules(path: Path) -> set[str]:
    """Project modules ``path`` imports (``from a import b`` counts a.b when b is a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if n.split(".")[0] in PACKAGES and _module_file(n) is not None}


def imported_files(module: str) -> set[Path]:
    """Every project file loaded by importing ``module`` (its packages' ``__init__`` too)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            parent = ".".join(parts[:i])
            if parent not in seen and _module_file(parent) is not None:
                seen.add(parent)
                todo += sorted(_imported_modules(_module_file(parent)) - seen)
    return {_module_file(name).relative_to(PROJECT_ROOT) for name in seen}


def _stages() -> list[tuple[str, str, list[str]]]:
    with Repo(str(PROJECT_ROOT)) as repo:
        return [(stage.addressing, stage.cmd, [str(dep.def_path) for dep in stage.deps])
                for stage in repo.index.stages]


def uncovered(cmd: str, deps: list[str]) -> list[Path]:
    """Files the command imports that no dep (a file, or a folder holding it) covers."""
    words = cmd.split()
    if words[:1] != ["mer"]:
        raise AssertionError(f"stage command {cmd!r} is not a `mer` command")
    module = COMMANDS[words[1]][0].partition(":")[0]
    covered = [Path(dep) for dep in deps]
    return sorted(path for path in imported_files(module) - {Path("mer/cli.py")}
                  if not any(path == dep or dep in path.parents for dep in covered))


@pytest.mark.parametrize(("stage", "cmd", "deps"), _stages(), ids=lambda v: v
                         if isinstance(v, str) and " " not in v else "")
def test_every_imported_file_is_a_dep(stage: str, cmd: str, deps: list[str]) -> None:
    missing = uncovered(cmd, deps)
    assert not missing, f"stage {stage}: imports {[str(p) for p in missing]} not in its deps"


def test_the_check_finds_a_missing_dep() -> None:
    train = next(cmd for stage, cmd, _ in _stages() if stage.startswith("train@"))
    assert Path("mer/config.py") in uncovered(train, ["mer/training", "mer/stages/train.py"])
    assert not uncovered(train, ["mer", "flows"])
