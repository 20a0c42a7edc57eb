"""The gate on the flow table (after optical flow, before training)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from mer.data.schema import LABELS
from mer.quality.faces import file_bytes
from mer.quality.gate import Batch, GateReport, run_gate


def validate_flow(flow: pa.Table, flow_dir: Path, max_magnitude: float,
                  data_docs: Path | None = None) -> GateReport:
    """Check every clip's flow as summarised in the flow table (magnitudes in pixels)."""
    frame = flow.to_pandas()
    frame["bytes"] = pd.array([file_bytes(flow_dir, path) for path in frame["path"]],
                              dtype="Int64")
    parameters = {"max_magnitude": max_magnitude, "labels": list(LABELS)}
    return run_gate("flow", [Batch("flow", frame)], parameters, data_docs)
