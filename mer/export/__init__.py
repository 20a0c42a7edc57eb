"""Export mer's preprocessed inputs in the layouts other micro-expression codebases read.

:func:`export_clips` writes one format (``faces``, ``npy``, ``ststnet``, ``htnet``; see
docs/export.md) into a new folder, built beside it and renamed into place at the end, so an
interrupted export leaves no half folder that looks whole.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mer.data.errors import DataError
from mer.export.formats import COMPOSITE_CSV, FORMATS, ExportClip, Exporter
from mer.export.images import flow_image
from mer.export.naming import MegcName, megc_name

__all__ = ["COMPOSITE_CSV", "FORMATS", "ExportClip", "Exporter", "MegcName", "export_clips",
           "flow_image", "megc_name"]


def export_clips(format_name: str, clips: Iterable[ExportClip], out: Path) -> int:
    """Write ``clips`` in ``format_name`` into the new folder ``out``; return the clip count.

    Raises:
        DataError: unknown format, ``out`` exists and is not an empty folder, or no clips.
        OSError: ``out``'s parent cannot be written.
    """
    if format_name not in FORMATS:
        raise DataError(format_name, f"unknown export format (expected one of "
                                     f"{', '.join(FORMATS)})")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(out, "export folder exists and is not empty; choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        writer = FORMATS[format_name](staging)
        count = 0
        for clip in clips:
            writer.add(clip)
            count += 1
        if count == 0:
            raise DataError(out, "no labelled clip to export")
        writer.finish()
        staging.chmod(0o755)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count
