"""The gate on the faces table (after alignment, before optical flow).

Clips the stage excluded for want of a face (``faces.on_no_face: exclude``) or for a frame that
cannot be decoded (``faces.on_bad_frame: exclude``) are not failures here; they are listed in the
report's ``dropped`` with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from mer.quality.gate import Check, GateReport, run_gate


def face_checks(size: int) -> list[Check]:
    """Rules for aligned clips of ``size`` x ``size`` pixels."""
    return [
        Check("at least one clip has a face", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        Check("the aligned clip file exists", "ExpectColumnValuesToBeInSet",
              {"column": "file_exists", "value_set": [True]}),
        Check("a clip has at least 2 frames", "ExpectColumnValuesToBeBetween",
              {"column": "n_frames", "min_value": 2}),
        Check(f"inter-ocular distance within {0.15 * size:.0f}..{0.7 * size:.0f} px",
              "ExpectColumnValuesToBeBetween",
              {"column": "inter_ocular", "min_value": 0.15 * size, "max_value": 0.7 * size}),
        Check(f"landmark fit residual <= {0.08 * size:.1f} px", "ExpectColumnValuesToBeBetween",
              {"column": "residual", "min_value": 0, "max_value": 0.08 * size}),
    ]


def validate_faces(faces: pa.Table, faces_dir: Path, size: int) -> GateReport:
    """Check the aligned clips; list the clips the stage excluded as dropped, with the reason."""
    frame = faces.to_pandas()
    aligned = frame[frame["status"] == "aligned"].copy()
    aligned["file_exists"] = [(faces_dir / path).is_file() for path in aligned["path"]]
    report = run_gate("faces", aligned, face_checks(size))
    dropped = frame.loc[frame["status"] != "aligned", ["dataset", "subject", "clip", "reason"]]
    return GateReport(report.gate, report.success, len(frame), report.checks,
                      dropped=_records(dropped))


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [dict(row) for row in frame.to_dict(orient="records")]
