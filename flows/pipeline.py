"""The `mer-pipeline` flow: every DVC stage once the stages it depends on are done, up to
``runtime.stages_at_once`` at a time, each quality gate its own task.

A stage task retries (a transient failure such as a full temporary folder may pass next time);
a gate task does not: a failed gate attaches its validation result (which clip, which rule) to
the run as an artifact, fails the run and stops everything downstream. Outputs already produced
stay, and DVC skips the finished stages on the next run.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture, as_completed

from flows.dvc_graph import (
    GATE_PREFIX,
    StageFailed,
    StageOutcome,
    repro_stage,
    stage_graph,
    stage_outputs,
)
from mer.config import load_params


def _repro(root: Path, name: str) -> StageOutcome:
    started = time.perf_counter()
    process = repro_stage(root, name)
    log = (process.stdout + process.stderr).strip()
    if process.returncode != 0:
        raise StageFailed(f"stage '{name}' failed:\n" + "\n".join(log.splitlines()[-15:]))
    ran = f"Stage '{name}' didn't change, skipping" not in log
    return StageOutcome(name, ran, time.perf_counter() - started, log)


@task(name="stage", task_run_name="stage {name}", retries=1, retry_delay_seconds=2)
def run_stage(root: Path, name: str) -> StageOutcome:
    """Run one DVC stage (skipped by DVC when nothing it depends on changed)."""
    outcome = _repro(root, name)
    get_run_logger().info("%s: %s in %.1f s", name, "ran" if outcome.ran else "unchanged",
                          outcome.seconds)
    return outcome


@task(name="gate", task_run_name="gate {name}")
def run_gate(root: Path, name: str) -> StageOutcome:
    """Run one quality gate; on failure attach its report to the run and fail."""
    try:
        return _repro(root, name)
    except StageFailed:
        for report in stage_outputs(root, name):
            if (root / report).is_file():
                create_markdown_artifact(
                    key=re.sub(r"[^a-z0-9-]", "-", name.lower()),  # Prefect's key alphabet
                    markdown=gate_markdown(root / report),
                    description=f"quality gate {name} failed",
                )
        raise


def gate_markdown(report_path: Path) -> str:
    """Render a gate report (reports/quality/<gate>.json) as markdown: failed rules and clips."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    lines = [f"# Gate `{report['gate']}`: {'passed' if report['success'] else 'FAILED'}",
             f"{report['n_rows']} rows checked; report `{report_path}`.", "",
             "| rule | failed | first clips |", "|---|---|---|"]
    for check in report["checks"]:
        if not check["success"]:
            clips = ", ".join(_clip_text(row) for row in check["failed"][:5])
            lines.append(f"| {check['rule']} | {check['n_failed']} | {clips} |")
    return "\n".join(lines) + "\n"


def _clip_text(row: dict[str, object]) -> str:
    """``dataset/clip``, with ``(file row n)`` when the gate's table carries them."""
    text = f"{row.get('dataset', '?')}/{row.get('clip', '?')}"
    if row.get("source_file"):
        text += f" ({row['source_file']} row {row.get('source_row')})"
    return text


@flow(name="mer-pipeline", log_prints=False)
def pipeline(root: Path = Path("."), targets: list[str] | None = None) -> list[StageOutcome]:
    """Run the stages of ``root/dvc.yaml`` (only ``targets`` and what they depend on, if given),
    each once every stage it depends on has finished, ``runtime.stages_at_once`` at a time, in
    :func:`~flows.dvc_graph.stage_graph`'s order among those ready; gates are separate, visible
    tasks.

    Returns:
        What each stage did, dependencies first.

    Raises:
        StageFailed: the first failed stage or gate in that order, once the stages that do not
            depend on it have finished (their outputs are kept; DVC records them).
    """
    graph = stage_graph(root, targets)
    at_once = load_params(root / "params.yaml").runtime.stages_at_once
    waiting = dict(graph)
    running: dict[PrefectFuture[StageOutcome], str] = {}
    outcomes: dict[str, StageOutcome] = {}
    failures: dict[str, BaseException] = {}
    while waiting or running:
        ready = [name for name, upstream in waiting.items() if set(upstream) <= outcomes.keys()]
        for name in ready[: at_once - len(running)]:
            step = run_gate if name.startswith(GATE_PREFIX) else run_stage
            running[step.submit(root, name)] = name
            del waiting[name]
        if not running:
            break  # what still waits depends on a failed stage
        done = next(as_completed(list(running)))
        name = running.pop(done)
        result = done.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            failures[name] = result
        else:
            outcomes[name] = result
    if failures:
        raise next(failures[name] for name in graph if name in failures)
    return [outcomes[name] for name in graph]
