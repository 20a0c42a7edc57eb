"""The lineage of every reported number, and whether its record still holds.

:func:`audit_metrics` takes a metrics file written by a DVC stage (``reports/metrics.json``,
``{model: {dataset: {metric: value}}}``) and returns, for each metric, the stage that produced it
and that stage's upstream in dvc.lock (each with its params and the md5 of each input), the
git commit, the Prefect flow run that trained the model (``lineage.prefect_flow_run_id`` of the
``config.yaml`` a training output holds), the versions of the packages that can change a number,
and every recorded hash that no longer matches the disk (:func:`mer.lineage.verify.verify`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mer.data.errors import DataError
from mer.lineage.environment import Environment, environment
from mer.lineage.lock import (
    LOCK_FILE,
    LockedStage,
    flatten_params,
    lock_chain_mismatches,
    producing_stage,
    read_lock,
    upstream,
)
from mer.lineage.verify import Mismatch, verify

#: The file a training output folder records its configuration and lineage in.
MODEL_CONFIG = "config.yaml"


@dataclass(frozen=True)
class Metric:
    """One reported number: ``model x dataset x metric`` (value a number or an interval)."""

    model: str | None
    dataset: str | None
    metric: str
    value: Any
    stage: str  # the stage that wrote the metrics file
    lineage: str  # key into AuditReport.lineages


@dataclass(frozen=True)
class Lineage:
    """The stages behind a group of metrics (one model entry), nearest first, and its runs.

    ``runs`` maps a training output folder to what its config.yaml recorded
    (``prefect_flow_run_id``, ``torch`` ...).
    """

    key: str
    stages: tuple[str, ...]
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class AuditReport:
    """Everything :func:`audit_metrics` found; ``ok`` is False when a recorded hash no longer
    matches (see :attr:`mismatches`)."""

    metrics_file: str
    root: str
    stage: str
    environment: Environment
    stages: dict[str, LockedStage]
    lineages: dict[str, Lineage]
    metrics: list[Metric]
    mismatches: list[Mismatch]
    warnings: list[str]
    verified: bool

    @property
    def failures(self) -> list[Mismatch]:
        """The mismatches that mean a recorded hash no longer matches."""
        return [m for m in self.mismatches if m.failing]

    @property
    def ok(self) -> bool:
        """Verified, and every recorded hash matches."""
        return self.verified and not self.failures

    def inputs(self, key: str) -> list[dict[str, Any]]:
        """Every input up the graph of lineage ``key``: path, md5, the stage using it, and
        whether a stage produced it (``artifact``) or it is source (code, params, external)."""
        produced = [out.path for s in self.stages.values() for out in s.outs]
        rows, seen = [], set()
        for name in self.lineages[key].stages:
            for dep in self.stages[name].deps:
                if (dep.path, dep.md5) in seen:
                    continue
                seen.add((dep.path, dep.md5))
                artifact = any(dep.path == p or p.startswith(dep.path + "/")
                               or dep.path.startswith(p + "/") for p in produced)
                rows.append({"path": dep.path, "md5": dep.md5, "stage": name,
                             "kind": "artifact" if artifact else "source"})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready structure (see ``mer audit --json``)."""
        return {
            "metrics_file": self.metrics_file,
            "root": self.root,
            "ok": self.ok,
            "verified": self.verified,
            "stage": self.stage,
            "git": asdict(self.environment.git),
            "python": self.environment.python,
            "packages": self.environment.packages,
            "cpu_paths": self.environment.cpu_paths,
            "metrics": [asdict(m) for m in self.metrics],
            "lineages": {
                key: {"stages": list(lineage.stages), "runs": lineage.runs,
                      "inputs": self.inputs(key)}
                for key, lineage in self.lineages.items()},
            "stages": {
                name: {"cmd": s.cmd, "params": flatten_params(s.params),
                       "deps": [asdict(p) for p in s.deps], "outs": [asdict(p) for p in s.outs]}
                for name, s in self.stages.items()
                if any(name in lineage.stages for lineage in self.lineages.values())},
            "mismatches": [asdict(m) for m in self.mismatches],
            "warnings": self.warnings,
        }


def flatten_metrics(data: Any) -> list[tuple[str | None, str | None, str, Any]]:
    """``{model: {dataset: {metric: value}}}`` -> ``(model, dataset, metric, value)`` rows.

    Deeper nesting joins the remaining keys with ``/`` into the metric's name; shallower
    nesting leaves model (and dataset) None. A value is a number, a string or a list.
    """
    rows: list[tuple[str | None, str | None, str, Any]] = []

    def walk(path: tuple[str, ...], value: Any) -> None:
        if isinstance(value, Mapping):
            for key in value:
                walk((*path, str(key)), value[key])
            return
        if len(path) >= 3:
            rows.append((path[0], path[1], "/".join(path[2:]), value))
        elif len(path) == 2:
            rows.append((path[0], None, path[1], value))
        else:
            rows.append((None, None, path[0] if path else "value", value))

    walk((), data)
    return rows


def _runs(root: Path, chain: list[LockedStage]) -> dict[str, dict[str, Any]]:
    runs = {}
    for stage in chain:
        for out in stage.outs:
            config = root / out.path / MODEL_CONFIG
            if out.is_dir and config.is_file():
                recorded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
                lineage = recorded.get("lineage") if isinstance(recorded, Mapping) else None
                if isinstance(lineage, Mapping):
                    runs[out.path] = dict(lineage)
    return runs


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise DataError(path, f"not inside the DVC project at {root}") from None


def find_root(start: str | Path) -> Path:
    """The DVC project holding ``start`` (the nearest folder above it with ``.dvc/``)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    raise DataError(start, "not inside a DVC project (no .dvc folder above it)")


def audit_metrics(metrics_file: str | Path, root: str | Path | None = None, *,
                  check: bool = True) -> AuditReport:
    """Trace every number of ``metrics_file`` to its stage, inputs, params, code and run.

    Args:
        metrics_file: a JSON file written by a stage of ``root``'s dvc.yaml.
        root: the DVC project; default the one holding ``metrics_file``.
        check: ask DVC whether every recorded hash still matches the disk (needs the repository
            unlocked: not while ``dvc repro`` runs); False only reads the record.

    Raises:
        DataError: the file is unreadable, outside the project, or no recorded stage wrote it.
    """
    metrics_path = Path(metrics_file)
    root = Path(root) if root is not None else find_root(metrics_path.parent)
    relative = _relative(metrics_path if metrics_path.is_absolute() else Path.cwd() / metrics_path,
                         root)
    try:
        data = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(metrics_path, f"cannot read the metrics ({error})") from error
    stages = read_lock(root)
    producer = producing_stage(stages, relative)
    rows = flatten_metrics(data)

    lineages: dict[str, Lineage] = {}
    metrics = []
    for model, dataset, metric, value in rows:
        focused = model is not None and any(n.endswith(f"@{model}") for n in stages)
        key = model if focused and model is not None else producer.name
        if key not in lineages:
            chain = upstream(stages, producer.name, focus=model if focused else None)
            lineages[key] = Lineage(key, tuple(s.name for s in chain), _runs(root, chain))
        metrics.append(Metric(model, dataset, metric, value, producer.name, key))

    env = environment(root)
    names = dict.fromkeys(n for lineage in lineages.values() for n in lineage.stages)
    involved = [stages[n] for n in names]
    mismatches = [Mismatch(stage, "lock", path, f"used md5 {used}, its producer recorded {made}")
                  for stage, path, used, made in lock_chain_mismatches(involved, stages)]
    if check:
        mismatches += verify(root, involved, since=env.git.lock_commit)
    warnings = _warnings(env, lineages)
    return AuditReport(relative, str(root), producer.name, env, stages, lineages, metrics,
                       mismatches, warnings, verified=check)


def _warnings(env: Environment, lineages: Mapping[str, Lineage]) -> list[str]:
    found = []
    if env.git.commit is None:
        found.append(f"no git commit: {env.git.error}")
    elif env.git.lock_dirty:
        found.append(f"{LOCK_FILE} has changes not committed: the record is not in any commit")
    torch_now = (env.packages.get("torch") or "").split(" ")[0]
    for lineage in lineages.values():
        for out, run in lineage.runs.items():
            if run.get("torch") and torch_now and str(run["torch"]) != torch_now:
                found.append(f"{out}: trained with torch {run['torch']}, installed {torch_now}")
    return found


def format_text(report: AuditReport) -> str:
    """The audit as text: verdict, code and packages, each metric, then each lineage."""
    git = report.environment.git
    lines = [f"lineage of {report.metrics_file} (written by stage '{report.stage}', "
             f"project {report.root})"]
    if git.commit:
        dirty = (f"work tree dirty, {git.n_changed} paths: {', '.join(git.changed)}"
                 if git.dirty else "work tree clean")
        lines.append(f"git: HEAD {git.commit} ({dirty}); {LOCK_FILE} last committed in "
                     f"{git.lock_commit or 'no commit'}")
    else:
        lines.append(f"git: none ({git.error})")
    packages = ", ".join(f"{k} {v}" for k, v in report.environment.packages.items() if v)
    lines.append(f"python {report.environment.python}; {packages}")
    lines.append(f"CPU code paths: {report.environment.cpu_summary()}")
    if not report.verified:
        lines.append("check: NOT RUN (hashes as recorded in dvc.lock, not compared with the disk)")
    elif report.ok:
        lines.append("check: OK, every recorded hash up the graph matches the files on disk")
    else:
        lines.append(f"check: FAILED, {len(report.failures)} recorded item(s) no longer match:")
    lines += [f"  - {m.describe()}" for m in report.mismatches]
    lines += [f"warning: {w}" for w in report.warnings]

    lines += ["", "metrics (per model: stage, lineage and Prefect flow runs, then "
                  "model dataset metric = value):"]
    header = None
    for metric in report.metrics:
        runs = report.lineages[metric.lineage].runs
        run_ids = ", ".join(str(r["prefect_flow_run_id"]) for r in runs.values()
                            if r.get("prefect_flow_run_id")) or "-"
        if (metric.model, metric.lineage) != header:
            header = (metric.model, metric.lineage)
            lines.append(f"  {metric.model or '-'} <- {metric.stage}, lineage {metric.lineage}, "
                         f"flow run {run_ids}")
        lines.append(f"    {metric.model or '-'} {metric.dataset or '-'} {metric.metric} = "
                     f"{json.dumps(metric.value)}")
    for key, lineage in report.lineages.items():
        lines += ["", f"lineage {key}: {' <- '.join(lineage.stages)}"]
        for out, run in lineage.runs.items():
            lines.append(f"  run {out}: prefect flow run "
                         f"{run.get('prefect_flow_run_id') or 'none (not run under Prefect)'}")
        for name in lineage.stages:
            stage = report.stages[name]
            lines.append(f"  stage {name}: {stage.cmd}")
            for param, value in flatten_params(stage.params).items():
                lines.append(f"    param {param} = {json.dumps(value)}")
            for dep in stage.deps:
                lines.append(f"    in  {dep.path} {dep.md5}")
            for out in stage.outs:
                lines.append(f"    out {out.path} {out.md5}")
    return "\n".join(lines) + "\n"
