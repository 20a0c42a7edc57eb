"""Stage `audit`: the lineage of every number in a metrics file, and whether its record holds.

``mer audit reports/metrics.json [--json]`` prints, for each metric (model x dataset x metric),
the stage that wrote it, the git commit, the params and input hashes of that stage and every
stage upstream (from dvc.lock), the Prefect flow run that trained the model and the versions of
the packages that can change a number; DVC then checks every recorded hash against the disk.
Exit code 0: everything matches; 1: something no longer matches (each named); 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mer.lineage import audit_metrics, format_text, reproduce


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the metrics file and the output options."""
    parser = argparse.ArgumentParser(prog="mer audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("metrics", type=Path, help="a metrics file written by a DVC stage")
    parser.add_argument("--json", action="store_true", help="print the audit as JSON")
    parser.add_argument("--root", type=Path,
                        help="DVC project root (default: found above the file)")
    parser.add_argument("--no-check", action="store_true",
                        help="only read the record; do not compare hashes with the disk")
    parser.add_argument("--reproduce", type=Path, metavar="DIR",
                        help="also clone HEAD into DIR, force the producing stage (inputs from "
                             "the DVC cache) and compare the file's bytes")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Audit the metrics file; return 1 when any recorded hash no longer matches."""
    args = parse_args(argv)
    report = audit_metrics(args.metrics, args.root, check=not args.no_check)
    payload = report.to_dict()
    ok = report.ok or (args.no_check and not report.failures)
    if args.reproduce is not None:
        result = reproduce(report.metrics_file, args.reproduce, Path(report.root))
        payload["reproduction"] = {"stage": result.stage, "path": result.path,
                                   "recorded_md5": result.recorded_md5,
                                   "reproduced_md5": result.reproduced_md5,
                                   "identical": result.identical}
        ok = ok and result.identical
    if args.json:
        payload["ok"] = ok
        sys.stdout.write(json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n")
    else:
        sys.stdout.write(format_text(report))
        if "reproduction" in payload:
            r = payload["reproduction"]
            sys.stdout.write(f"reproduction: stage {r['stage']} re-run in {args.reproduce}: "
                             f"{r['path']} {'identical' if r['identical'] else 'DIFFERS'} "
                             f"(recorded {r['recorded_md5']}, reproduced {r['reproduced_md5']})\n")
    if not ok:
        names = "; ".join(m.describe() for m in report.failures) or "reproduction differs"
        sys.stderr.write(f"mer audit: {report.metrics_file}: record no longer matches: {names}\n")
        return 1
    return 0
