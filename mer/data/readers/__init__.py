"""Corpus readers: one module per corpus format, each producing the canonical clip table.

Each module has ``read_annotations(path, policy) -> pa.Table`` (the annotation alone: ``root``
"" and no frames) and ``parse(path, policy) -> ReadResult`` (the same with the dropped clips);
:func:`attach_frames` then lists the frames of every clip under the corpus root.
:func:`read_corpus` does both; :func:`apply_composite` selects the MEGC2019 composite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, Final

import pyarrow as pa

from mer.config import TREE_FORMATS
from mer.data.errors import DataError
from mer.data.readers import attach, casme2, casme3, ckplus, mmew, samm, smic
from mer.data.readers.common import Dropped, ReaderPolicy, ReadResult
from mer.data.readers.composite import apply_composite, read_ground_truth, smic_annotations

__all__ = ["FORMATS", "MACRO_FORMATS", "Dropped", "ReadResult", "ReaderPolicy", "apply_composite",
           "attach_frames", "clip_folder", "parse_annotations", "read_corpus", "read_ground_truth",
           "smic_annotations"]

_PARSERS: Final[dict[str, Callable[[str | Path, ReaderPolicy], ReadResult]]] = {
    "casme2": casme2.parse, "samm": samm.parse, "smic": smic.parse, "casme3": casme3.parse,
    "mmew": mmew.parse, "ckplus": ckplus.parse,
}

#: The macro-expression formats :func:`read_corpus` also reads (kept apart from the micro ones).
MACRO_FORMATS: Final[tuple[str, ...]] = ("ckplus",)

#: The micro-expression formats :func:`read_corpus` knows (the ``dataset`` values it produces).
FORMATS: Final[tuple[str, ...]] = tuple(f for f in _PARSERS if f not in MACRO_FORMATS)


def parse_annotations(format: str, path: str | Path,
                     policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read the annotation of a corpus alone (no frames): its sheet, or the SMIC/CK+ tree."""
    if format not in _PARSERS:
        raise DataError(format, f"unknown corpus format; expected one of {', '.join(_PARSERS)}")
    return _PARSERS[format](path, policy)


def clip_folder(row: dict[str, Any]) -> PurePosixPath:
    """Return the folder of a clip row relative to its corpus root (any format)."""
    if row["dataset"] == ckplus.DATASET:
        return ckplus.clip_folder(row["subject"], row["clip"])
    return attach.clip_folder(row)


def attach_frames(table: pa.Table, root: str | Path) -> pa.Table:
    """Fill ``root``, ``frames`` and ``frame_numbers`` from the folders under ``root``.

    A CK+ table goes to :func:`ckplus.attach_frames`, any other to
    :func:`attach.attach_frames` (see there for the rules and errors).

    Raises:
        DataError: also when a table mixes CK+ clips with other corpora (one root each).
    """
    datasets = set(table["dataset"].to_pylist())
    if ckplus.DATASET in datasets:
        if datasets != {ckplus.DATASET}:
            raise DataError(root, f"table mixes ckplus with {', '.join(sorted(datasets))}: "
                                  "attach the frames of one corpus (one root) at a time")
        return ckplus.attach_frames(table, root)
    return attach.attach_frames(table, root)


def read_corpus(format: str, root: str | Path, annotations: str | Path | None = None,
                policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read a corpus: parse its annotation, then attach the frames found under ``root``.

    Args:
        format: one of :data:`FORMATS` or :data:`MACRO_FORMATS`.
        root: the corpus root holding the clip folders (e.g. ``CASME2_RAW_selected``; for CK+
            the folder holding ``cohn-kanade-images``).
        annotations: the coding sheet; for SMIC and CK+ (no sheet) leave it None to read the
            tree under ``root``.
        policy: what to do with the known defects of the sheets.

    Raises:
        DataError: for an unknown format, a missing sheet, any bad input, or when no clip is left.
    """
    if annotations is None:
        if format not in TREE_FORMATS:
            raise DataError(root, f"the {format} reader needs its annotation sheet")
        annotations = root
    sheet = parse_annotations(format, annotations, policy)
    table = attach_frames(sheet.table, root)
    if table.num_rows == 0:
        raise DataError(annotations, f"no {format} clip left after dropping known defects")
    return ReadResult(table, sheet.dropped)
