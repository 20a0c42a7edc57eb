"""What dvc.lock recorded: each stage's command, params and the md5 of its deps and outs.

``dvc.lock`` is DVC's record of the last run of every stage; it is read here as data (YAML), never
rewritten. A stage's upstream is found by path: a dependency is produced by every stage with an
output at, inside or above that path (``data/raw`` is fed by the output ``data/raw/synthetic``;
``models`` by ``models/ststnet``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mer.data.errors import DataError

#: The file DVC records stage runs in, at the project root.
LOCK_FILE = "dvc.lock"


@dataclass(frozen=True)
class LockedPath:
    """One dependency or output as recorded: path (POSIX, relative to the root) and its hash.

    ``md5`` ends in ``.dir`` for a folder (DVC's hash of the folder's file list).
    """

    path: str
    md5: str | None
    size: int | None = None
    nfiles: int | None = None

    @property
    def is_dir(self) -> bool:
        """Whether DVC recorded a folder (a ``.dir`` hash)."""
        return bool(self.md5 and self.md5.endswith(".dir"))


@dataclass(frozen=True)
class LockedStage:
    """One stage of dvc.lock: its name (``flow@micro`` for a foreach item), command and record."""

    name: str
    cmd: str
    deps: tuple[LockedPath, ...]
    outs: tuple[LockedPath, ...]
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # file -> key -> value

    def produces(self, path: str) -> bool:
        """Whether one of the outputs is ``path`` or a folder holding it."""
        return any(_inside(path, out.path) for out in self.outs)


def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or lies under it (POSIX paths relative to one root)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def overlaps(a: str, b: str) -> bool:
    """Two recorded paths share files: equal, or one lies inside the other."""
    return _inside(a, b) or _inside(b, a)


def _paths(entries: Iterable[Mapping[str, Any]] | None, where: str) -> tuple[LockedPath, ...]:
    result = []
    for entry in entries or ():
        if not isinstance(entry, Mapping) or "path" not in entry:
            raise DataError(where, f"entry {entry!r} has no 'path'; is this a DVC 3 lock file?")
        result.append(LockedPath(str(PurePosixPath(entry["path"])), entry.get("md5"),
                                 entry.get("size"), entry.get("nfiles")))
    return tuple(result)


def read_lock(root: str | Path) -> dict[str, LockedStage]:
    """Read ``root/dvc.lock``; return its stages by name, in file order.

    Raises:
        DataError: the lock file is missing (run ``dvc repro`` first) or not a DVC 3 lock.
    """
    path = Path(root) / LOCK_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "no dvc.lock: nothing was recorded yet (run `dvc repro`)") from None
    except (OSError, yaml.YAMLError) as error:
        raise DataError(path, f"cannot read the lock file ({error})") from error
    if not isinstance(raw, Mapping) or not isinstance(raw.get("stages"), Mapping):
        raise DataError(path, "no 'stages' mapping: not a DVC 3 lock file (schema '2.0')")
    stages = {}
    for name, body in raw["stages"].items():
        where = f"{path} stage {name}"
        if not isinstance(body, Mapping):
            raise DataError(where, "stage entry is not a mapping")
        stages[str(name)] = LockedStage(
            name=str(name), cmd=" ".join(str(body.get("cmd", "")).split()),
            deps=_paths(body.get("deps"), where), outs=_paths(body.get("outs"), where),
            params={str(f): dict(v or {}) for f, v in (body.get("params") or {}).items()})
    return stages


def producing_stage(stages: Mapping[str, LockedStage], path: str) -> LockedStage:
    """The stage whose outputs include ``path`` (POSIX, relative to the root).

    Raises:
        DataError: no recorded stage (or more than one) writes ``path``.
    """
    found = [stage for stage in stages.values() if stage.produces(path)]
    if not found:
        raise DataError(path, f"no stage in {LOCK_FILE} has it among its outputs "
                              "(is it written by a DVC stage, and was that stage run?)")
    if len(found) > 1:
        raise DataError(path, f"written by several stages: {', '.join(s.name for s in found)}")
    return found[0]


def upstream(stages: Mapping[str, LockedStage], name: str,
             focus: str | None = None) -> list[LockedStage]:
    """Return stage ``name`` and every stage it depends on, nearest first (breadth-first).

    Args:
        stages: the lock's stages.
        name: where to start.
        focus: a foreach key (a model entry, ``ststnet``): where several items of one foreach
            stage feed a dependency (``train@ststnet``, ``train@micro_attention`` both feed
            ``models``) and one is ``<stage>@<focus>``, only that one is followed. Items of other
            foreach stages (``flow@micro``, ``flow@macro``) are all followed.
    """
    order, queue, seen = [], [stages[name]], {name}
    while queue:
        stage = queue.pop(0)
        order.append(stage)
        feeding = [other for other in stages.values() if other.name != stage.name
                   and any(overlaps(dep.path, out.path)
                           for dep in stage.deps for out in other.outs)]
        for other in _focused(feeding, focus):
            if other.name not in seen:
                seen.add(other.name)
                queue.append(other)
    return order


def _focused(candidates: list[LockedStage], focus: str | None) -> list[LockedStage]:
    if focus is None:
        return candidates
    groups = {c.name.split("@", 1)[0] for c in candidates if "@" in c.name}
    chosen = {g for g in groups if any(c.name == f"{g}@{focus}" for c in candidates)}
    return [c for c in candidates
            if "@" not in c.name or c.name.split("@", 1)[0] not in chosen
            or c.name == f"{c.name.split('@', 1)[0]}@{focus}"]


def lock_chain_mismatches(chain: Iterable[LockedStage],
                          stages: Mapping[str, LockedStage]) -> list[tuple[str, str, str, str]]:
    """Dependencies whose recorded md5 differs from the md5 recorded for the same path as an
    output of the stage that writes it: ``(stage, path, used md5, produced md5)``.

    Such a stage consumed an older (or newer) version than the one its producer last wrote.
    """
    produced = {out.path: out.md5 for stage in stages.values() for out in stage.outs}
    found = []
    for stage in chain:
        for dep in stage.deps:
            if dep.path in produced and produced[dep.path] != dep.md5:
                found.append((stage.name, dep.path, str(dep.md5), str(produced[dep.path])))
    return found


def flatten_params(params: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{file: {key: nested}}`` -> ``{"key.sub": leaf}`` (the file named when not params.yaml)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, sub in value.items():
                bare = not prefix or prefix.endswith(":")
                joined = f"{prefix}{key}" if bare else f"{prefix}.{key}"
                walk(joined, sub)
        else:
            flat[prefix] = value

    for file, values in params.items():
        walk("" if file == "params.yaml" else f"{file}:", values)
    return flat
