"""Attaching frame files to a clip table read from a sheet (:func:`attach_frames`).

Each corpus format has its own folder layout under the corpus root (see :func:`clip_folder`).
Nothing under the root is ever written.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.frames import frame_number, list_frames
from mer.data.readers import casme2, casme3, smic
from mer.data.schema import CLIP_SCHEMA


def clip_folder(row: dict[str, Any]) -> PurePosixPath:
    """Return the folder of a clip row relative to its corpus root.

    ``casme2``: ``<subject>/<Filename>``; ``samm``: ``<subject>/<clip>``;
    ``smic``: ``<subject>/micro/<emotion>/<clip>``;
    ``casme3``: ``<subject>/<task>/color``; ``mmew``: ``<emotion>/<clip>``.

    Raises:
        DataError: the dataset has no known layout.
    """
    dataset, subject, clip = row["dataset"], row["subject"], row["clip"]
    if dataset == casme2.DATASET:
        return casme2.clip_folder(subject, clip)
    if dataset == "samm":
        return PurePosixPath(subject, clip)
    if dataset == smic.DATASET:
        return PurePosixPath(subject, smic.MICRO_FOLDER, row["emotion"], clip)
    if dataset == casme3.DATASET:
        return casme3.clip_folder(subject, clip)
    if dataset == "mmew":
        return PurePosixPath(row["emotion"], clip)
    raise DataError(f"{dataset} clip {clip}", "no folder layout known for this dataset")


def attach_frames(table: pa.Table, root: str | Path) -> pa.Table:
    """Fill ``root``, ``frames`` and ``frame_numbers`` of each clip from the folders under ``root``.

    Frames are kept when ``onset <= number <= offset``, ascending, as POSIX paths relative to
    ``root``. SMIC clips take onset and offset from their first and last frame.

    Raises:
        DataError: naming the clip, when the root or a clip folder is missing, a folder or frame
            resolves outside the root (a symlink or a ``..`` in a name), or the onset, apex or
            offset frame file is missing.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise DataError(root_path, "corpus root folder not found")
    real_root = root_path.resolve()
    rows = [_attach(row, root_path, real_root) for row in table.to_pylist()]
    out = pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)
    return out.replace_schema_metadata(table.schema.metadata)


def _attach(row: dict[str, Any], root: Path, real_root: Path) -> dict[str, Any]:
    """Return ``row`` with its frames, checking containment and the annotated frames."""
    relative = clip_folder(row)
    folder = root / relative
    at = f"{row['dataset']} clip {row['clip']} ({folder})"
    if relative.is_absolute() or ".." in relative.parts:
        raise DataError(at, "clip folder would leave the corpus root")
    try:
        found = folder.is_dir()
    except OSError as error:  # e.g. a name longer than the file system allows
        raise DataError(at, f"clip folder cannot be looked up ({error.strerror})") from error
    if not found:
        raise DataError(at, "clip folder not found under the corpus root")
    _check_inside(folder, real_root, at)
    frames = list_frames(folder)
    numbers = [frame_number(path) for path in frames]
    if row["dataset"] == smic.DATASET and numbers:
        row["onset"], row["offset"] = numbers[0], numbers[-1]
    present = set(numbers)
    wanted = {"onset": row["onset"], "apex": row["apex"], "offset": row["offset"]}
    missing = [f"{name} {number}" for name, number in wanted.items()
               if number is not None and number not in present]
    if missing:
        raise DataError(at, f"frame file missing for {', '.join(missing)}")
    kept = [(path, n) for path, n in zip(frames, numbers) if row["onset"] <= n <= row["offset"]]
    for path, _ in kept:
        _check_inside(path, real_root, at)
    row["root"] = str(root)
    row["frames"] = [path.relative_to(root).as_posix() for path, _ in kept]
    row["frame_numbers"] = [n for _, n in kept]
    return row


def _check_inside(path: Path, real_root: Path, at: str) -> None:
    """Raise when ``path``, once symlinks are resolved, is not inside ``real_root``."""
    if not path.resolve().is_relative_to(real_root):
        raise DataError(at, f"{path.name} resolves outside the corpus root (symlink?)")
