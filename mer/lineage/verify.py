"""Do the hashes dvc.lock recorded still match the files on disk? DVC is asked, not re-implemented.

:func:`verify` runs DVC's own status (``dvc.repo.Repo.status``: the same check as ``dvc
status``) on the given stages. For a folder DVC reports as modified, the files that differ are
named by comparing the folder with the file list DVC keeps in its cache for the recorded
``.dir`` hash, each file hashed with DVC's own hashing (``dvc_data``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mer.lineage.lock import LockedStage

logger = logging.getLogger(__name__)

#: DVC states that mean the file on disk is not what was recorded.
FAILING_STATES: Final[frozenset[str]] = frozenset({"modified", "deleted", "new", "changed"})
_MAX_FILES: Final[int] = 20


@dataclass(frozen=True)
class Mismatch:
    """One recorded thing that no longer holds.

    Attributes:
        stage: the stage whose record it is.
        kind: ``out``, ``dep``, ``params``, ``command``, ``lock`` (a stage used another md5 of a
            path than its producer recorded) or ``always`` (a stage that always runs).
        path: the file or folder (for ``params`` the params file and key).
        state: DVC's word: ``modified``, ``deleted``, ``new``, ``not in cache``, ...
        files: for a folder, the files inside it that differ (at most 20), relative to the root.
        failing: whether it means a recorded hash no longer matches (``not in cache`` does not:
            the file still matches, only DVC's cached copy is missing).
    """

    stage: str
    kind: str
    path: str
    state: str
    files: tuple[str, ...] = ()
    failing: bool = True

    def describe(self) -> str:
        """One line: ``stage ingest@micro: dep mer/config.py modified (files: ...)``."""
        files = f" (files: {', '.join(self.files)})" if self.files else ""
        what = f"{self.kind} {self.path}" if self.path else self.kind
        return f"stage {self.stage}: {what} {self.state}{files}"


def dvc_status(root: str | Path, stage_names: Sequence[str]) -> dict[str, list[Any]]:
    """DVC's status of the named stages (``{stage: [changes]}``; empty when all match).

    Raises:
        ValueError: DVC could not check (not a DVC project, or the repository is locked by a
            running ``dvc repro``), naming the root.
    """
    from dvc.exceptions import DvcException  # noqa: PLC0415 - DVC is slow to import
    from dvc.repo import Repo  # noqa: PLC0415

    dvcfile = Path(root).resolve() / "dvc.yaml"
    try:
        with Repo(str(root)) as repo:
            known = {stage.name for stage in repo.index.stages
                     if Path(stage.path).resolve() == dvcfile}
            checked = [f"{dvcfile}:{name}" for name in stage_names if name in known]
            raw = dict(repo.status(targets=checked)) if checked else {}
    except DvcException as error:
        raise ValueError(f"{root}: DVC could not check the workspace ({error})") from error
    # DVC names stages relative to the current folder (``../x/dvc.yaml:train@m1``)
    status = {key.rsplit(":", 1)[-1]: changes for key, changes in raw.items()}
    for name in stage_names:
        if name not in known:
            status[name] = ["stage no longer in dvc.yaml"]
    return status


def parse_status(status: Mapping[str, list[Any]]) -> list[Mismatch]:
    """Turn DVC's status mapping into :class:`Mismatch` records."""
    found = []
    for stage, changes in status.items():
        for change in changes:
            if isinstance(change, str):  # "changed command", "always changed", gone stage
                kind = ("always" if "always" in change
                        else "stage" if "dvc.yaml" in change else "command")
                found.append(Mismatch(stage, kind, "", change, failing=kind != "always"))
                continue
            for section, entries in change.items():
                kind = "out" if "out" in section else "dep"
                for path, state in entries.items():
                    if isinstance(state, Mapping):  # params file: {key: state}
                        for key, key_state in state.items():
                            found.append(Mismatch(stage, "params", f"{path}:{key}",
                                                  str(key_state)))
                    else:
                        found.append(Mismatch(stage, kind, str(path), str(state),
                                              failing=str(state) in FAILING_STATES))
    return found


def changed_files(root: str | Path, folder: str, dir_md5: str) -> tuple[str, ...] | None:
    """Files of ``folder`` that differ from DVC's recorded listing for ``dir_md5``.

    Returns None when DVC's cache no longer holds the listing (then only the folder is known).
    Each entry is ``path (modified|deleted|new)``.
    """
    from dvc.repo import Repo  # noqa: PLC0415
    from dvc_data.hashfile.hash import file_md5  # noqa: PLC0415

    root = Path(root)
    with Repo(str(root)) as repo:
        listing = Path(repo.cache.local.oid_to_path(dir_md5))
    if not listing.is_file():
        return None
    recorded = {entry["relpath"]: entry["md5"]
                for entry in json.loads(listing.read_text(encoding="utf-8"))}
    base = root / folder
    present = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()} \
        if base.is_dir() else set()
    differ = []
    for relpath in sorted(recorded.keys() | present):
        if relpath not in present:
            differ.append(f"{folder}/{relpath} (deleted)")
        elif relpath not in recorded:
            differ.append(f"{folder}/{relpath} (new)")
        elif file_md5(str(base / relpath)) != recorded[relpath]:
            differ.append(f"{folder}/{relpath} (modified)")
        if len(differ) >= _MAX_FILES:
            break
    return tuple(differ)


def git_changed_files(root: str | Path, folder: str, since: str) -> tuple[str, ...]:
    """Files of ``folder`` that differ from commit ``since`` per git (tracked changes and
    untracked files), for folders whose DVC listing is not cached (code dependencies)."""
    from mer.lineage.environment import _git  # noqa: PLC0415

    diff = _git(Path(root), "diff", "--name-only", since, "--", folder)
    new = _git(Path(root), "ls-files", "--others", "--exclude-standard", "--", folder)
    names = [f"{n} (changed since {since[:8]})" for n in diff.stdout.split()]
    names += [f"{n} (new, untracked)" for n in new.stdout.split()]
    return tuple(names[:_MAX_FILES])


def verify(root: str | Path, stages: Iterable[LockedStage],
           since: str | None = None) -> list[Mismatch]:
    """Check every recorded dependency, output and param of ``stages`` against the disk.

    Args:
        root: the DVC project root.
        stages: the stages to check (e.g. a metric's producing stage and its upstream).
        since: the commit that recorded dvc.lock; for a modified folder DVC's cache has no
            listing of (code folders), git names the files changed since then.

    Returns:
        Everything that differs; a folder's entry names the files inside that differ.
    """
    stages = list(stages)
    recorded = {(s.name, p.path): p for s in stages for p in (*s.deps, *s.outs)}
    found = []
    for mismatch in parse_status(dvc_status(root, [s.name for s in stages])):
        locked = recorded.get((mismatch.stage, mismatch.path))
        if locked is not None and locked.is_dir and mismatch.state == "modified":
            files = changed_files(root, locked.path, str(locked.md5))
            if files is None and since:
                files = git_changed_files(root, locked.path, since)
            if files:
                mismatch = Mismatch(mismatch.stage, mismatch.kind, mismatch.path,
                                    mismatch.state, files, mismatch.failing)
        found.append(mismatch)
    return found
