"""Cost of the flow stage's TV-L1 call in a fresh process: fused cold, fused warm, eager.

Run: ``python benchmarks/flow_cold_start.py [--pairs 32] [--project ROOT [--set micro]]``. Prints
one markdown table.

With ``--project`` each process runs the flow stage's whole computation instead
(``mer.stages.flow.compute_flow``, params.yaml's ``flow`` section: onset -> apex flows and the
K-frame sequences) on the aligned clips of that project's ``--set`` (its `faces` stage must have
run), writing into a temporary folder: the stage's cost cold, warm and as it was before the fused
kernels (eager: every ``tvl1_flow`` call of the stage forced to ``backend="eager"``).

One flow-stage batch is ``flow.batch_size`` (32) pairs of 128x128; here they are the pairs of
``flow_benchmark.make_pairs``. Each row is a fresh Python process (torch threads = 2) that
times one ``tvl1_flow`` call on the whole batch, with OpenCV's parameters:

- fused, cold: ``backend="auto"`` (fused on the CPU) with ``NUMBA_CACHE_DIR`` an empty temporary
  folder, so the call includes compiling the kernels (what a machine without ``make setup`` pays);
- fused, warm: the same, in a new process finding the kernels the cold run left in that folder
  (the call includes loading them);
- eager: ``backend="eager"``, the torch code the flow stage ran before the fused kernels.

The ratios are eager / this (> 1: faster than the eager path). The process column adds the
imports and the pair generation, the same for every row. The machine may be shared: the load
average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def stage_child(backend: str, project: Path, corpus: str) -> None:
    """Time the flow stage's computation on ``project``'s aligned ``corpus`` clips; print a JSON
    line with the seconds (``backend`` eager: every ``tvl1_flow`` call forced to eager)."""
    sys.path.insert(0, str(HERE.parent))
    import functools

    import pyarrow.parquet as pq
    import torch

    from mer.config import load_params
    from mer.flow import _fused, features, sequence, tvl1
    from mer.stages.flow import compute_flow

    torch.set_num_threads(2)
    if backend == "eager":
        forced = functools.partial(tvl1.tvl1_flow, backend="eager")
        features.tvl1_flow = sequence.tvl1_flow = forced  # the stage's two call sites
    params = load_params(project / "params.yaml").flow
    interim = project / "data" / "interim" / corpus
    state = _fused.kernels_state()
    with tempfile.TemporaryDirectory(prefix="flow-stage-") as out:
        start = time.perf_counter()
        table = compute_flow(pq.read_table(interim / "clips.parquet"),
                             pq.read_table(interim / "faces.parquet"), interim / "faces",
                             Path(out) / "flow", params, Path(out) / "sequence")
        seconds = time.perf_counter() - start
    print(json.dumps({"state": state, "seconds": seconds, "clips": table.num_rows}))


def child(backend: str, pairs: int) -> None:
    """Time one ``tvl1_flow`` call in this process; print a JSON line with the seconds."""
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import torch

    from flow_benchmark import make_pairs
    from mer.flow import _fused, tvl1_flow

    torch.set_num_threads(2)
    f0, f1, _ = make_pairs(pairs)
    state = _fused.kernels_state()
    start = time.perf_counter()
    flow = tvl1_flow(torch.from_numpy(f0)[:, None], torch.from_numpy(f1)[:, None], backend=backend)
    seconds = time.perf_counter() - start
    assert flow.shape == (pairs, 2, f0.shape[1], f0.shape[2]), f"unexpected flow shape {tuple(flow.shape)}"
    print(json.dumps({"state": state, "seconds": seconds}))


def measure(backend: str, pairs: int, cache: str,
            stage: tuple[Path, str] | None = None) -> dict[str, float | str]:
    """Run :func:`child` (or :func:`stage_child` on ``stage``: project, corpus) in a fresh
    interpreter with ``NUMBA_CACHE_DIR=cache``.

    Returns:
        the child's numba cache state before the call, the call's seconds and the process's
        wall-clock seconds (imports and pair generation included).
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    start = time.perf_counter()
    command = [sys.executable, __file__, "--child", backend, "--pairs", str(pairs)]
    if stage is not None:
        command += ["--project", str(stage[0]), "--set", stage[1]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"flow_cold_start: the {backend} child failed (rc {done.returncode}):\n"
                           f"{done.stderr}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--project", type=Path, help="time the flow stage on this project's clips")
    parser.add_argument("--set", default="micro", help="the project's clip set (micro, macro)")
    parser.add_argument("--child", choices=("auto", "eager"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    stage = (args.project.resolve(), args.set) if args.project else None
    if args.child:
        if stage:
            stage_child(args.child, *stage)
        else:
            child(args.child, args.pairs)
        return
    what = (f"the flow stage on {args.project} ({args.set})" if stage else
            f"{args.pairs} pairs of 128x128 in one tvl1_flow call")
    print(f"{what}, OpenCV's parameters, torch threads 2, "
          f"cpus {os.cpu_count()}, load avg at start {os.getloadavg()[0]:.1f}\n")
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        rows = {"fused (auto), empty numba cache": measure("auto", args.pairs, cache, stage),
                "fused (auto), warm numba cache": measure("auto", args.pairs, cache, stage),
                "eager": measure("eager", args.pairs, cache, stage)}
    for name, want in (("fused (auto), empty numba cache", "cold"),
                       ("fused (auto), warm numba cache", "cached")):
        if rows[name]["state"] != want:
            raise RuntimeError(f"flow_cold_start: {name} found the kernels {rows[name]['state']!r}, "
                               f"expected {want!r}")
    eager = rows["eager"]
    print("| run | kernels found | call s | eager / this | process s | eager / this |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        state = row["state"] if name != "eager" else "(not used)"
        print(f"| {name} | {state} | {row['seconds']:.1f} | {eager['seconds'] / row['seconds']:.2f} "
              f"| {row['process']:.1f} | {eager['process'] / row['process']:.2f} |")
    print(f"\nload avg at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
