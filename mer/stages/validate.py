"""Stage `validate`: run a data-quality gate on a stage's table and write its report.

``mer validate clips --table data/interim/clips.parquet --report reports/quality/clips.json``
exits 2 when the gate fails, after writing the report, with the first failing clip, rule and
file on stderr.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

from mer.config import load_params
from mer.data.atomic import write_text
from mer.quality import GateError, GateReport

logger = logging.getLogger(__name__)


def validate_clip_table(table_path: Path, dropped_path: Path | None, min_labelled: int) -> GateReport:
    """Run the clip gate on a clip table file and attach the clips its readers dropped."""
    from mer.quality.clips import validate_clips  # noqa: PLC0415

    report = validate_clips(pq.read_table(table_path), min_labelled)
    dropped = pq.read_table(dropped_path).to_pylist() if dropped_path is not None else []
    return replace(report, dropped=dropped)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the gate name, its input table and the report path."""
    parser = argparse.ArgumentParser(prog="mer validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("gate", choices=("clips",), help="which gate")
    parser.add_argument("--table", type=Path, required=True, help="the table to check (Parquet)")
    parser.add_argument("--dropped", type=Path, help="clips the readers dropped (Parquet)")
    parser.add_argument("--report", type=Path, required=True, help="where the JSON report goes")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Validate, write the report, and fail with the first broken rule when the gate fails."""
    args = parse_args(argv)
    quality = load_params(args.params).quality
    report = validate_clip_table(args.table, args.dropped, quality.min_labelled_clips_per_subject)
    write_text(args.report, report.to_json())
    if not report.success:
        raise GateError(report)
    logger.info("gate %s passed on %d rows -> %s", report.gate, report.n_rows, args.report)
    return 0
