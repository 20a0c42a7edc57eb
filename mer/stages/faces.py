"""Stage `faces`: crop and align every clip of the clip table (one transform per clip).

``mer faces --clips data/interim/clips.parquet --out-dir data/interim/faces
--table data/interim/faces.parquet`` writes one ``<dataset>/<subject>/<clip>.npz`` per clip
(``frames`` (T, size, size, 3) uint8, ``frame_numbers`` (T,), ``landmarks`` (68, 2) output px,
``matrix`` (2, 3)) and a table with one row per clip. A clip with no face is excluded and listed
(``faces.on_no_face: exclude``) or fails the stage (``fail``); likewise a clip with a frame that
cannot be decoded (``faces.on_bad_frame``), so one bad frame does not stop a corpus run.
The command runs :func:`align_table` on chunks of clips as Prefect tasks (``flows/faces.py``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from mer.config import FacesParams
from mer.data.atomic import atomic_path
from mer.data.errors import DataError
from mer.data.frames import read_frame

logger = logging.getLogger(__name__)

FACES_SCHEMA = pa.schema([
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("subject", pa.string(), nullable=False),
    pa.field("clip", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=True),  # relative to the faces folder; null if excluded
    pa.field("n_frames", pa.int32(), nullable=False),
    pa.field("status", pa.string(), nullable=False),  # "aligned", "no_face" or "bad_frame"
    pa.field("detector", pa.string(), nullable=True),
    pa.field("score", pa.float32(), nullable=True),
    pa.field("inter_ocular", pa.float32(), nullable=True),  # output px
    pa.field("residual", pa.float32(), nullable=True),  # RMS landmark fit error, output px
    pa.field("reason", pa.string(), nullable=True),
])


def clip_path(dataset: str, subject: str, clip: str) -> Path:
    """Where a clip's aligned frames live, relative to the faces folder."""
    return Path(dataset) / subject / f"{clip}.npz"


def align_row(row: dict[str, Any], out_dir: Path, params: FacesParams) -> dict[str, Any]:
    """Align one clip-table row; write its npz atomically; return its faces-table row."""
    from mer.faces import NoFaceError, align_clip  # noqa: PLC0415 - loads dlib models

    name = f"{row['dataset']}/{row['subject']}/{row['clip']}"
    base = {"dataset": row["dataset"], "subject": row["subject"], "clip": row["clip"],
            "n_frames": len(row["frames"])}
    try:
        frames = [read_frame(Path(row["root"]) / frame) for frame in row["frames"]]
    except DataError as error:
        if params.on_bad_frame == "fail":
            raise
        return {**base, "path": None, "status": "bad_frame",
                "reason": f"frame {error.where} cannot be decoded: {error.rule}"}
    try:
        aligned = align_clip(frames, size=params.size, margin=params.margin, clip=name)
    except NoFaceError as error:
        if params.on_no_face == "fail":
            raise
        return {**base, "path": None, "status": "no_face", "reason": error.rule}
    relative = clip_path(row["dataset"], row["subject"], row["clip"])
    with atomic_path(out_dir / relative) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, frames=aligned.frames, landmarks=aligned.landmarks,
                            matrix=aligned.matrix,
                            frame_numbers=np.asarray(row["frame_numbers"], dtype=np.int32))
    return {**base, "path": relative.as_posix(), "status": "aligned",
            "detector": aligned.detector, "score": aligned.score,
            "inter_ocular": aligned.inter_ocular, "residual": aligned.residual, "reason": None}


def align_table(clips: pa.Table, out_dir: Path, params: FacesParams) -> pa.Table:
    """Align every clip; return the faces table (one row per clip, input order)."""
    rows = [align_row(row, out_dir, params)
            for row in tqdm(clips.to_pylist(), desc="faces", unit="clip", mininterval=2)]
    for status in ("no_face", "bad_frame"):
        excluded = [f"{r['dataset']}/{r['clip']}" for r in rows if r["status"] == status]
        if excluded:
            logger.warning("%s in %d clips, excluded: %s", status.replace("_", " "),
                           len(excluded), ", ".join(excluded))
    return pa.Table.from_pylist(rows, schema=FACES_SCHEMA)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the clip table, the output folder and table, and params.yaml."""
    parser = argparse.ArgumentParser(prog="mer faces", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, required=True, help="clip table (Parquet)")
    parser.add_argument("--out-dir", type=Path, required=True, help="aligned clips folder")
    parser.add_argument("--table", type=Path, required=True, help="faces table (Parquet)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    return parser.parse_args(argv)

