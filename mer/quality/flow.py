"""The gate on the flow table (after optical flow, before training)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from mer.quality.gate import Check, GateReport, run_gate


def flow_checks(max_magnitude: float) -> list[Check]:
    """Rules for the onset -> apex flow of every clip; magnitudes are in pixels."""
    return [
        Check("at least one clip has flow", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        Check("the flow file exists", "ExpectColumnValuesToBeInSet",
              {"column": "file_exists", "value_set": [True]}),
        Check("flow values are finite", "ExpectColumnValuesToBeInSet",
              {"column": "finite", "value_set": [True]}),
        Check(f"mean flow magnitude within 0..{max_magnitude} px", "ExpectColumnValuesToBeBetween",
              {"column": "mean_magnitude", "min_value": 0, "max_value": max_magnitude}),
        Check("onset and apex frames are not constant", "ExpectColumnValuesToBeBetween",
              {"column": "min_frame_std", "min_value": 0, "strict_min": True}),
        Check("apex differs from onset", "ExpectColumnValuesToBeBetween",
              {"column": "onset_apex_difference", "min_value": 0, "strict_min": True}),
    ]


def validate_flow(flow: pa.Table, flow_dir: Path, max_magnitude: float) -> GateReport:
    """Check every clip's flow arrays as summarised in the flow table."""
    frame = flow.to_pandas()
    frame["file_exists"] = [(flow_dir / path).is_file() for path in frame["path"]]
    return run_gate("flow", frame, flow_checks(max_magnitude))
