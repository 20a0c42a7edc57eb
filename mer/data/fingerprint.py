"""Fingerprints of the frame files of a clip table, so that DVC sees a changed frame.

A clip table lists frame paths, not their contents: a frame edited in place leaves the table as
it was, and the stages that read frames would keep their old outputs. The per-corpus read stages
write this table beside theirs; the stages that read frames depend on it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa

from mer.data.errors import DataError

#: One row per clip: its key and the SHA-256 of its frames' bytes, in order.
FINGERPRINT_SCHEMA = pa.schema([pa.field("dataset", pa.string(), nullable=False),
                                pa.field("clip", pa.string(), nullable=False),
                                pa.field("frames_sha256", pa.string(), nullable=False)])


def frame_fingerprints(clips: pa.Table) -> pa.Table:
    """The SHA-256 of each clip's frame files (``root`` / ``frames``, in order), one row per clip.

    Raises:
        DataError: a frame file cannot be read (named).
    """
    rows = []
    for clip in clips.select(["dataset", "clip", "root", "frames"]).to_pylist():
        digest = hashlib.sha256()
        for frame in clip["frames"]:
            path = Path(clip["root"]) / frame
            try:
                digest.update(path.read_bytes())
            except OSError as error:
                raise DataError(path, f"cannot read the frame ({error.strerror})") from error
        rows.append({"dataset": clip["dataset"], "clip": clip["clip"],
                     "frames_sha256": digest.hexdigest()})
    return pa.Table.from_pylist(rows, schema=FINGERPRINT_SCHEMA)
