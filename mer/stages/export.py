"""Command `export`: write the pipeline's preprocessed inputs for other codebases.

``mer export --format ststnet --out exports/ststnet`` reads the flow table and arrays
(``data/processed/micro/flow*``) and, for ``faces`` and ``htnet``, the aligned clips
(``data/interim/micro/faces*``), and writes every labelled clip in one of the layouts of
docs/export.md (``faces``, ``npy``, ``ststnet``, ``htnet``) with a MEGC2019 composite
``combined_3class_gt.csv`` naming each clip. The folder must be new (or empty).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mer.data.errors import DataError
from mer.export import FORMATS, ExportClip, export_clips

logger = logging.getLogger(__name__)


def load_clips(flow: list[dict[str, Any]], flow_dir: Path,
               faces: dict[tuple[str, str], dict[str, Any]] | None,
               faces_dir: Path | None) -> Iterator[ExportClip]:
    """Yield each labelled flow-table row's arrays (and aligned frames when ``faces`` is given).

    Raises:
        DataError: a flow or faces file is missing or lacks its arrays, or a clip of the flow
            table has no aligned clip in the faces table.
    """
    for row in flow:
        if row["label"] is None:
            continue
        arrays = _load(flow_dir / row["path"], ("u", "v", "strain"))
        frames: dict[str, np.ndarray] = {}
        if faces is not None and faces_dir is not None:
            face = faces.get((row["dataset"], row["clip"]))
            if face is None or face["path"] is None:
                raise DataError(f"{row['dataset']}/{row['subject']}/{row['clip']}",
                                "in the flow table but not aligned in the faces table")
            frames = _load(faces_dir / face["path"], ("frames", "frame_numbers"))
        yield ExportClip(row["dataset"], row["subject"], row["clip"], row["label"],
                         row["onset_frame"], row["apex_frame"], arrays["u"], arrays["v"],
                         arrays["strain"], frames.get("frames"), frames.get("frame_numbers"))


def _load(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read ``keys`` from one npz file."""
    if not path.is_file():
        raise DataError(path, "file not found; run the pipeline (dvc repro) first")
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in keys if key not in data.files]
        if missing:
            raise DataError(path, f"lacks the arrays {', '.join(missing)}")
        return {key: data[key] for key in keys}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the format, the output folder and the pipeline tables to read."""
    parser = argparse.ArgumentParser(prog="mer export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", required=True, choices=sorted(FORMATS),
                        help="layout to write (docs/export.md)")
    parser.add_argument("--out", type=Path, required=True, help="new output folder")
    parser.add_argument("--flow", type=Path, default=Path("data/processed/micro/flow.parquet"),
                        help="flow table (Parquet)")
    parser.add_argument("--flow-dir", type=Path, default=Path("data/processed/micro/flow"),
                        help="flow arrays folder")
    parser.add_argument("--faces", type=Path, default=Path("data/interim/micro/faces.parquet"),
                        help="faces table (Parquet; faces and htnet formats)")
    parser.add_argument("--faces-dir", type=Path, default=Path("data/interim/micro/faces"),
                        help="aligned clips folder (faces and htnet formats)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Export every labelled clip in the chosen format."""
    args = parse_args(argv)
    for path in (args.flow, *((args.faces,) if FORMATS[args.format].needs_frames else ())):
        if not path.is_file():
            raise DataError(path, "table not found; run the pipeline (dvc repro) first")
    faces = None
    if FORMATS[args.format].needs_frames:
        faces = {(r["dataset"], r["clip"]): r for r in pq.read_table(args.faces).to_pylist()
                 if r["status"] == "aligned"}
    flow = pq.read_table(args.flow).to_pylist()
    count = export_clips(args.format, load_clips(flow, args.flow_dir, faces, args.faces_dir),
                         args.out)
    logger.info("%d clips exported as %s -> %s", count, args.format, args.out)
    return 0
