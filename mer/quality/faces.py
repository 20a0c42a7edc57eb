"""The gate on the faces table (after alignment, before optical flow).

Clips the stage excluded for want of a face (``faces.on_no_face: exclude``) or for a frame that
cannot be decoded (``faces.on_bad_frame: exclude``) are not failures here; they are listed in the
report's ``dropped`` with the reason. The thresholds scale with the crop side ``faces.size``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from mer.quality.gate import Batch, GateReport, run_gate

#: Inter-ocular distance bounds and largest landmark fit residual, as fractions of the crop side.
INTER_OCULAR_FRACTION = (0.15, 0.7)
RESIDUAL_FRACTION = 0.08


def face_parameters(size: int) -> dict[str, float]:
    """The faces suite's thresholds in output pixels for ``size`` x ``size`` crops."""
    low, high = INTER_OCULAR_FRACTION
    return {"min_inter_ocular": low * size, "max_inter_ocular": high * size,
            "max_residual": RESIDUAL_FRACTION * size}


def validate_faces(faces: pa.Table, faces_dir: Path, size: int,
                   data_docs: Path | None = None) -> GateReport:
    """Check the aligned clips; list the clips the stage excluded as dropped, with the reason."""
    frame = faces.to_pandas()
    aligned = frame[frame["status"] == "aligned"].copy()
    aligned["bytes"] = pd.array([file_bytes(faces_dir, path) for path in aligned["path"]],
                                dtype="Int64")
    report = run_gate("faces", [Batch("faces", aligned)], face_parameters(size), data_docs)
    dropped = frame.loc[frame["status"] != "aligned", ["dataset", "subject", "clip", "reason"]]
    return GateReport(report.gate, report.success, len(frame), report.checks,
                      dropped=_records(dropped))


def file_bytes(folder: Path, path: str | None) -> int | None:
    """Size of ``folder / path`` in bytes; None when the path is missing or not a file."""
    target = None if path is None else folder / path
    return target.stat().st_size if target is not None and target.is_file() else None


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [dict(row) for row in frame.to_dict(orient="records")]
