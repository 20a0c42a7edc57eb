"""Corpus readers: one module per corpus format, each producing the canonical clip table.

Each module has ``read_annotations(path, policy) -> pa.Table`` (the annotation alone: ``root``
"" and no frames) and ``parse(path, policy) -> ReadResult`` (the same with the dropped clips);
:func:`attach_frames` then lists the frames of every clip under the corpus root.
:func:`read_corpus` does both; :func:`apply_composite` selects the MEGC2019 composite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from mer.data.errors import DataError
from mer.data.readers import casme2, casme3, mmew, samm, smic
from mer.data.readers.attach import attach_frames, clip_folder
from mer.data.readers.common import Dropped, ReaderPolicy, ReadResult
from mer.data.readers.composite import apply_composite, read_ground_truth, smic_annotations

__all__ = ["FORMATS", "Dropped", "ReadResult", "ReaderPolicy", "apply_composite", "attach_frames",
           "clip_folder", "parse_annotations", "read_corpus", "read_ground_truth",
           "smic_annotations"]

_PARSERS: Final[dict[str, Callable[[str | Path, ReaderPolicy], ReadResult]]] = {
    "casme2": casme2.parse, "samm": samm.parse, "smic": smic.parse, "casme3": casme3.parse,
    "mmew": mmew.parse,
}

#: The corpus formats :func:`read_corpus` knows (the ``dataset`` values it produces).
FORMATS: Final[tuple[str, ...]] = tuple(_PARSERS)


def parse_annotations(format: str, path: str | Path,
                     policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read the annotation of a corpus alone (no frames): its sheet, or the SMIC folder tree."""
    if format not in _PARSERS:
        raise DataError(format, f"unknown corpus format; expected one of {', '.join(FORMATS)}")
    return _PARSERS[format](path, policy)


def read_corpus(format: str, root: str | Path, annotations: str | Path | None = None,
                policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Read a corpus: parse its annotation, then attach the frames found under ``root``.

    Args:
        format: one of :data:`FORMATS`.
        root: the corpus root holding the clip folders (e.g. ``CASME2_RAW_selected``).
        annotations: the coding sheet; for SMIC (no sheet) leave it None to read the tree
            under ``root``.
        policy: what to do with the known defects of the sheets.

    Raises:
        DataError: for an unknown format, a missing sheet, any bad input, or when no clip is left.
    """
    if annotations is None:
        if format != "smic":
            raise DataError(root, f"the {format} reader needs its annotation sheet")
        annotations = root
    sheet = parse_annotations(format, annotations, policy)
    table = attach_frames(sheet.table, root)
    if table.num_rows == 0:
        raise DataError(annotations, f"no {format} clip left after dropping known defects")
    return ReadResult(table, sheet.dropped)
