"""`mer retrain --once` / `mer schedule`: the `mer-retrain` flow on new annotated clips.

It looks for batches in ``retrain.incoming``, checks each with the same reader and clip gate as
the corpora, quarantines a bad batch whole with the reason, merges the good ones into the raw
data (``data.incoming``, a new DVC-tracked version), reruns the pipeline, compares the new
metrics with the previous ones and promotes the new model only if it is not worse beyond
``retrain.tolerance``. Either way both metric sets and the decision are recorded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from prefect import flow, get_run_logger, task

from flows.pipeline import pipeline
from mer.config import Params, load_params
from mer.data import incoming
from mer.evaluation.compare import Decision, decide
from mer.stages import retrain as files


@task(name="gate", task_run_name="gate batch {batch.name}")
def check(batch: Path, params: Params) -> str | None:
    """The clip gate on one incoming batch: None when it passes, else the reason."""
    return files.check_batch(batch, params)


@task(name="merge", task_run_name="merge {batch.name}")
def merge(batch: Path, root: Path, params: Params) -> str:
    """Merge a checked batch into the raw data."""
    return incoming.merge(batch, files.merged_folder(root, params)).name


@task(name="track raw data", retries=1)
def track(root: Path, params: Params) -> None:
    """Record the merged raw data as a new DVC version (``dvc add``)."""
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "dvc"), "add", str(params.data.incoming)], cwd=root,
                   check=True, capture_output=True, text=True)


@flow(name="mer-retrain")
def retrain(root: Path = Path(".")) -> Decision | None:
    """Merge new batches and retrain; return the promotion decision (None if nothing new)."""
    logger = get_run_logger()
    params = load_params(root / "params.yaml")
    waiting = files.pending_batches(root, params)
    if not waiting:
        logger.info("no new batch in %s", root / params.retrain.incoming)
        return None
    reasons = {batch: check(batch, params) for batch in waiting}
    quarantined = {}
    for batch, reason in reasons.items():
        if reason is not None:
            quarantined[batch.name] = reason
            logger.warning("batch %s quarantined: %s", batch.name,
                           incoming.quarantine(batch, root / params.retrain.quarantine, reason))
    good = [batch for batch, reason in reasons.items() if reason is None]
    record_dir = files.new_record_dir(root, params)
    previous = files.keep_results(root, record_dir, "previous")
    merged = [merge(batch, root, params) for batch in good]
    decision = None
    new = None
    if merged:
        track(root, params)
        pipeline(root, targets=["report"])  # the default models (as `make run`)
        new = files.keep_results(root, record_dir, "new")
        decision = decide(previous, new or {}, model=params.retrain.model,
                          metric=params.retrain.metric, tolerance=params.retrain.tolerance)
        logger.info(decision.reason)
        if decision.promote:
            files.promote(root, record_dir, params, decision)
    files.write_record(record_dir, batches_merged=merged, quarantined=quarantined,
                       previous=previous, new=new, decision=decision)
    return decision


def main(argv: Sequence[str] | None = None) -> int:
    """``mer retrain --once``: run the flow now on the project in ``--root``."""
    parser = argparse.ArgumentParser(prog="mer retrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", required=True, help="run it now")
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder")
    args = parser.parse_args(argv)
    decision = retrain(args.root)
    print(decision.reason if decision else "nothing merged (see the record in reports/retrain)")
    return 0


def serve(argv: Sequence[str] | None = None) -> int:
    """``mer schedule``: serve the `mer-retrain` deployment on ``retrain.cron``."""
    parser = argparse.ArgumentParser(prog="mer schedule",
                                     description="serve the retraining deployment on its cron")
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder")
    args = parser.parse_args(argv)
    cron = load_params(args.root / "params.yaml").retrain.cron
    retrain.serve(name="mer-retrain", cron=cron, parameters={"root": str(args.root.resolve())})
    return 0
