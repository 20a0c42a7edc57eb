"""Re-run the stage that wrote a recorded file from a clean checkout and compare the bytes.

A clean checkout is a ``git clone`` of the project's HEAD (so uncommitted edits do not take
part) in a fresh folder. ``single_stage=True`` borrows the project's DVC cache, checks out the
recorded inputs and forces only the producing stage; ``False`` runs ``dvc repro`` for the whole
graph up to that stage from nothing (as slow as the pipeline itself).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mer.lineage.audit import find_root
from mer.lineage.lock import producing_stage, read_lock


@dataclass(frozen=True)
class Reproduction:
    """Outcome of :func:`reproduce`: the stage re-run, both md5s and whether the bytes agree."""

    stage: str
    path: str
    recorded_md5: str
    reproduced_md5: str | None
    identical: bool
    log: str


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a fixed argument list (never a shell string) in ``cwd``; raise naming it on failure."""
    process = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        tail = "\n".join((process.stdout + process.stderr).strip().splitlines()[-10:])
        raise ChildProcessError(f"{cwd}: `{' '.join(argv)}` exited {process.returncode}:\n{tail}")
    return process


def _md5(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


def reproduce(path: str, workdir: str | Path, root: str | Path | None = None, *,
              single_stage: bool = True) -> Reproduction:
    """Clone the project into ``workdir``, re-run the stage that wrote ``path``, compare bytes.

    Args:
        path: the recorded file, relative to the project root (``reports/metrics.json``).
        workdir: an empty or absent folder for the clone.
        root: the DVC project (a git work tree); default the one holding the current folder.
        single_stage: force only the producing stage, inputs checked out from the project's
            cache; False: ``dvc repro`` the whole graph up to it in the clone.

    Raises:
        ChildProcessError: git or DVC failed (the message has the end of its output).
        DataError: no recorded stage wrote ``path``.
    """
    root = Path(root) if root is not None else find_root(Path.cwd())
    stage = producing_stage(read_lock(root), path)
    workdir = Path(workdir)
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(root.resolve()), str(workdir)], root)
    dvc = [sys.executable, "-m", "dvc"]
    logs = []
    if single_stage:
        cache = (root / ".dvc" / "cache").resolve()
        _run([*dvc, "config", "--local", "cache.dir", str(cache)], workdir)
        logs.append(_run([*dvc, "checkout", "--quiet"], workdir).stdout)
        process = _run([*dvc, "repro", "--force", "--single-item", stage.name], workdir)
    else:
        process = _run([*dvc, "repro", stage.name], workdir)
    logs.append(process.stdout + process.stderr)
    recorded = next(o.md5 for o in stage.outs if o.path == path) if any(
        o.path == path for o in stage.outs) else _md5(root / path)
    reproduced = _md5(workdir / path)
    original = root / path
    identical = original.is_file() and (workdir / path).is_file() and \
        original.read_bytes() == (workdir / path).read_bytes()
    return Reproduction(stage.name, path, str(recorded), reproduced, identical, "".join(logs))
