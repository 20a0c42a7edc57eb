"""Stage `validate`: run a data-quality gate on a stage's table and write its report.

``mer validate clips --table data/interim/clips.parquet --report reports/quality/clips.json``
(likewise ``faces`` and ``flow`` with ``--dir``, the folder the table's paths are relative to)
writes the report, then exits 2 when the gate failed, naming the first failing clip, rule and file.
With ``--data-docs reports/data_docs/clips`` the validation is also rendered there as Great
Expectations Data Docs (``index.html``); they carry the run's time, so that folder is not a DVC
output (the report links to it).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

from mer.config import Params, load_params
from mer.data.atomic import write_text
from mer.quality import GateError, GateReport

logger = logging.getLogger(__name__)

GATES = ("clips", "faces", "flow")


def run(gate: str, table: Path, folder: Path | None, dropped: Path | None, params: Params,
        *, unlabelled: bool = False, data_docs: Path | None = None) -> GateReport:
    """Run one gate on a table file (with the folder its paths are relative to).

    ``unlabelled`` lifts the clips gate's labelled-clips-per-subject rule (macro corpora, which
    pretraining may use without labels); ``data_docs`` is where Data Docs go, if anywhere.
    """
    data = pq.read_table(table)
    if gate == "clips":
        from mer.quality.clips import validate_clips  # noqa: PLC0415

        minimum = 0 if unlabelled else params.quality.min_labelled_clips_per_subject
        report = validate_clips(data, minimum, data_docs)
    elif gate == "faces":
        from mer.quality.faces import validate_faces  # noqa: PLC0415

        report = validate_faces(data, _required(folder, gate), params.faces.size, data_docs)
    else:
        from mer.quality.flow import validate_flow  # noqa: PLC0415

        report = validate_flow(data, _required(folder, gate), params.flow.max_magnitude,
                               data_docs)
    if dropped is not None:
        report = replace(report, dropped=report.dropped + pq.read_table(dropped).to_pylist())
    return report


def _required(folder: Path | None, gate: str) -> Path:
    if folder is None:
        raise ValueError(f"gate '{gate}' needs --dir")
    return folder


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the gate name, its input table and the report path."""
    parser = argparse.ArgumentParser(prog="mer validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("gate", choices=GATES, help="which gate")
    parser.add_argument("--table", type=Path, required=True, help="the table to check (Parquet)")
    parser.add_argument("--dir", type=Path, help="folder the table's paths are relative to")
    parser.add_argument("--dropped", type=Path, help="clips an earlier step dropped (Parquet)")
    parser.add_argument("--report", type=Path, required=True, help="where the JSON report goes")
    parser.add_argument("--data-docs", type=Path,
                        help="folder for the Great Expectations Data Docs of this validation")
    parser.add_argument("--unlabelled", action="store_true",
                        help="clips gate: subjects need no labelled clip (macro corpora)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Validate, write the report, and fail with the first broken rule when the gate fails."""
    args = parse_args(argv)
    report = run(args.gate, args.table, args.dir, args.dropped, load_params(args.params),
                 unlabelled=args.unlabelled, data_docs=args.data_docs)
    write_text(args.report, report.to_json())
    if not report.success:
        raise GateError(report)
    logger.info("gate %s passed on %d rows -> %s", report.gate, report.n_rows, args.report)
    return 0
