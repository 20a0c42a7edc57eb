"""The gate on the canonical clip table (after ingest, before faces).

Two tables are validated: the clips themselves (suite ``clips``: keys, onset <= apex <= offset,
labels, fps, frame counts, labelled clips per subject) and their frames, one row per frame
(suite ``clip_frames``: numbers ascend, paths stay under the corpus root, files exist).
"""

from __future__ import annotations

import os
from itertools import zip_longest
from pathlib import Path

import pandas as pd
import pyarrow as pa

from mer.data.schema import LABELS
from mer.quality.gate import Batch, GateReport, run_gate

#: Columns of the clip table that the clips suite reads or a failure names.
CLIP_COLUMNS = ["dataset", "subject", "clip", "root", "onset", "apex", "offset", "fps", "label",
                "source_file", "source_row"]


def clip_frame(table: pa.Table) -> pd.DataFrame:
    """One row per clip: the table's scalar columns, ``n_frames``, ``n_frame_numbers`` and
    ``subject_labelled_clips`` (labelled clips of the same dataset and subject)."""
    frame = table.select(CLIP_COLUMNS).to_pandas()
    frame["n_frames"] = [len(frames) for frames in table.column("frames").to_pylist()]
    frame["n_frame_numbers"] = [len(n) for n in table.column("frame_numbers").to_pylist()]
    labelled = frame["label"].notna().groupby([frame["dataset"], frame["subject"]]).transform("sum")
    frame["subject_labelled_clips"] = labelled.astype(int)
    return frame


def frames_frame(table: pa.Table) -> pd.DataFrame:
    """One row per frame of every clip, in clip order.

    Columns: the clip's keys, ``frame`` (its path as the table gives it), ``number`` and
    ``previous_number`` (the clip's frame before it; null for the first), ``resolved`` (the path
    relative to the corpus root once symlinks are resolved; ``..`` first when it leaves the root)
    and ``bytes`` (its size on disk; null when it is not a file). A frame without a number, or a
    number without a frame, has nulls where the other is missing.
    """
    rows = []
    for clip in table.select(["dataset", "clip", "root", "frames", "frame_numbers",
                              "source_file", "source_row"]).to_pylist():
        base = Path(clip["root"]).resolve()
        previous = None
        for name, number in zip_longest(clip["frames"], clip["frame_numbers"]):
            path = None if name is None else (base / name).resolve()
            rows.append({
                "dataset": clip["dataset"], "clip": clip["clip"],
                "source_file": clip["source_file"], "source_row": clip["source_row"],
                "frame": name, "number": number, "previous_number": previous,
                "resolved": None if path is None else os.path.relpath(path, base),
                "bytes": path.stat().st_size if path is not None and path.is_file() else None,
            })
            previous = number
    columns = ["dataset", "clip", "source_file", "source_row", "frame", "number",
               "previous_number", "resolved", "bytes"]
    return pd.DataFrame(rows, columns=columns).astype(
        {"number": "Int64", "previous_number": "Int64", "bytes": "Int64"})


def validate_clips(table: pa.Table, min_labelled_clips_per_subject: int = 1,
                   data_docs: Path | None = None) -> GateReport:
    """Run the clip gate on a canonical clip table (Data Docs into ``data_docs`` if given)."""
    parameters = {"labels": list(LABELS), "min_labelled_clips": min_labelled_clips_per_subject}
    batches = [Batch("clips", clip_frame(table)), Batch("clip_frames", frames_frame(table))]
    return run_gate("clips", batches, parameters, data_docs)
