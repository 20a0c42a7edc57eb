"""Read the stage graph from dvc.yaml (DVC is the single source of it) and run one stage."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Stages named ``validate_<gate>`` are data-quality gates; they run as their own tasks.
GATE_PREFIX = "validate_"


class StageFailed(RuntimeError):
    """A DVC stage exited non-zero; the message carries the end of its log."""


@dataclass(frozen=True)
class StageOutcome:
    """What ``dvc repro`` did for one stage: ran it, or found it unchanged and skipped it."""

    name: str
    ran: bool
    seconds: float
    log: str


def stage_graph(root: Path, targets: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Each stage of ``root/dvc.yaml`` (all of them, or only ``targets`` and the stages they
    depend on; a foreach stage's name stands for all its members) -> the stages it depends on
    directly, in an order that lists dependencies first."""
    import networkx as nx  # noqa: PLC0415 - installed with DVC
    from dvc.repo import Repo  # noqa: PLC0415
    from dvc.stage import PipelineStage  # noqa: PLC0415

    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        stages = [s for s in graph if isinstance(s, PipelineStage)]  # not `dvc add` files
        if targets is not None:
            named = {t: [s for s in stages if _is_target(s.name, t)] for t in targets}
            unknown = [t for t, found in named.items() if not found]
            if unknown:
                raise ValueError(f"no stage {', '.join(unknown)} in {root / 'dvc.yaml'}")
            wanted = {s for found in named.values() for s in found}
            wanted |= {s for t in list(wanted) for s in nx.descendants(graph, t)}
            stages = [s for s in stages if s in wanted]
        selected = graph.subgraph(stages)
        ordered = reversed(list(nx.topological_sort(selected)))
        return {stage.name: tuple(sorted(up.name for up in selected.successors(stage)))
                for stage in ordered}


def _is_target(name: str, target: str) -> bool:
    """Whether stage ``name`` is ``target``, or one member ``target@<key>`` of a foreach stage
    (as ``dvc repro flow`` runs every ``flow@...``)."""
    return name == target or name.startswith(f"{target}@")


def stage_outputs(root: Path, name: str) -> list[Path]:
    """Return the output paths of one stage, relative to ``root``."""
    from dvc.repo import Repo  # noqa: PLC0415

    with Repo(str(root)) as repo:
        (stage,) = [s for s in repo.index.stages if getattr(s, "name", None) == name]
        return [Path(out.def_path) for out in stage.outs]


def repro_stage(root: Path, name: str) -> subprocess.CompletedProcess[str]:
    """Run ``dvc repro --single-item NAME`` in ``root``: runs the stage only if it changed.

    DVC releases its repository lock while the stage's command runs, so stages that do not
    depend on each other may run at once; each waits for the lock to check and record its stage.

    The interpreter's own bin folder comes first on PATH, so the stage commands (``mer ...``)
    and ``dvc`` are this environment's even when it is not activated.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    return subprocess.run(
        [str(Path(bin_dir) / "dvc"), "--wait-for-lock", "repro", "--single-item", name], cwd=root,
        capture_output=True, text=True, check=False, env=env,
    )
