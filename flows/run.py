"""`mer run`: run the `mer-pipeline` flow, then print the stage timeline and the results.

With no ``PREFECT_API_URL`` a temporary local Prefect server runs for the duration of the run,
shared by the pipeline and every stage it starts; set it to use a dedicated server. ``mer`` keeps
Prefect's state inside the project unless PREFECT_HOME is set. A server that does not answer,
before or during the run, is reported as such (exit code 2); DVC's lock records only the stages
that finished, so the next run resumes from there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from collections.abc import Sequence
from pathlib import Path

from flows.dvc_graph import StageFailed, StageOutcome
from flows.server import ServerUnavailable, check_server, local_server


#: What `mer run` runs with no --target: the default models up to the report and comparisons.
DEFAULT_TARGETS: tuple[str, ...] = ("report", "compare")


def results_text(root: Path) -> str:
    """The quality-gate lines and, when present, the metrics table of ``root/reports``."""
    lines = []
    for report in sorted((root / "reports" / "quality").glob("*.json")):
        data = json.loads(report.read_text(encoding="utf-8"))
        status = "passed" if data["success"] else "FAILED"
        lines.append(f"gate {data['gate']:<12} {status}: {data['n_rows']} rows, "
                     f"{len(data.get('dropped', []))} clips dropped")
    metrics = root / "reports" / "metrics.json"
    if metrics.is_file():
        from mer.evaluation.results import summary_table  # noqa: PLC0415

        lines += ["", summary_table(json.loads(metrics.read_text(encoding="utf-8")))]
    titles = {"comparisons.md": "paired comparisons (A - B, 95% interval over subjects):",
              "experiments/comparisons.md": "experiments, seed means (A - B, 95% interval):",
              "robustness/table.md": "robustness (UF1, UAR; change from clean):"}
    for name, title in titles.items():
        table = root / "reports" / name
        if table.is_file():
            lines += [title, table.read_text("utf-8")]
    return "\n".join(lines)


def drain_prefect() -> None:
    """Send the run's pending logs and events to the server now."""
    from prefect.events.worker import EventsWorker  # noqa: PLC0415
    from prefect.logging.handlers import APILogWorker  # noqa: PLC0415

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


def run_pipeline(root: Path, targets: list[str] | None) -> list[StageOutcome]:
    """Run the `mer-pipeline` flow against the server in PREFECT_API_URL.

    Raises:
        ServerUnavailable: the run failed and the server no longer answers (it stopped or
            restarted mid-run); DVC recorded only the stages that finished.
        StageFailed: a stage or gate failed.
    """
    # Prefect reads its settings when imported: only once the server's URL is set
    from flows.pipeline import pipeline  # noqa: PLC0415

    try:
        return pipeline(root, targets=targets)
    except StageFailed:
        raise
    except Exception:
        check_server(os.environ["PREFECT_API_URL"])  # raises when the server is the cause
        raise
    finally:
        drain_prefect()  # while the server is still up, or exit waits on it


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline flow on the project in ``--root`` and print what it did."""
    parser = argparse.ArgumentParser(prog="mer run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder (dvc.yaml)")
    parser.add_argument("--target", action="append", dest="targets",
                        help="run this stage and what it depends on (repeatable; default: "
                             f"{', '.join(DEFAULT_TARGETS)}, what `make run` runs)")
    parser.add_argument("--all", action="store_true",
                        help="run every stage, the experiments and robustness entries too "
                             "(about an hour on a 2-core CPU: `make experiments`)")
    args = parser.parse_args(argv)
    if args.all and args.targets:
        parser.error("--all runs every stage; give it without --target")
    targets = None if args.all else (args.targets or list(DEFAULT_TARGETS))
    dedicated = "PREFECT_API_URL" in os.environ
    try:
        if dedicated:
            check_server(os.environ["PREFECT_API_URL"])
        with nullcontext() if dedicated else local_server(Path(os.environ["PREFECT_HOME"])):
            outcomes = run_pipeline(args.root, targets)
    except ServerUnavailable as error:
        print(f"mer run: {error}. Stages finished before are kept (dvc.lock); run again to "
              "resume.", file=sys.stderr)
        return 2
    except StageFailed as error:
        print(f"mer run: {error}\n\n{results_text(args.root)}", file=sys.stderr)
        return 1
    print("\nstage timeline:")
    for outcome in outcomes:
        print(f"  {outcome.name:<20} {'ran' if outcome.ran else 'unchanged':<10} "
              f"{outcome.seconds:7.1f} s")
    print("\n" + results_text(args.root))
    return 0
