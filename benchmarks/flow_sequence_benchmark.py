"""CPU cost of the flow stage's clip sequences against its onset -> apex flow.

Usage::

    .venv/bin/python benchmarks/flow_sequence_benchmark.py [--clips-dir data/interim/micro] \\
        [--n 32] [--threads 1] [--out /tmp/mer_sequence]

Reads the aligned clips (``clips.parquet``, ``faces.parquet``, ``faces/``) of ``--clips-dir``,
takes the first ``--n`` aligned ones and prints the CPU seconds of
:func:`mer.flow.features.clip_flows` (onset -> apex at the crop size) and of the sequences
(``flow.sequence_frames`` crops and flows at ``flow.sequence_size``, params.yaml), written
under ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

from mer.config import load_params
from mer.flow.features import clip_flows
from mer.stages import flow as flow_stage


def main() -> None:
    """Time both parts on the same clips and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-dir", type=Path, default=Path("data/interim/micro"))
    parser.add_argument("--n", type=int, default=32, help="clips to time")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mer_sequence"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params(args.params).flow
    if not params.sequence_frames:
        raise SystemExit(f"{args.params}: flow.sequence_frames is 0 (no sequences to time)")
    faces = {(f["dataset"], f["clip"]): f
             for f in pq.read_table(args.clips_dir / "faces.parquet").to_pylist()
             if f["status"] == "aligned"}
    clips = [c for c in pq.read_table(args.clips_dir / "clips.parquet").to_pylist()
             if (c["dataset"], c["clip"]) in faces][:args.n]
    items = [flow_stage.clip_input(c, args.clips_dir / "faces", faces[(c["dataset"], c["clip"])],
                                   params.apex_spotter) for c in clips]
    start = time.process_time()
    clip_flows(items, params.solver(), batch_size=params.batch_size)
    onset_apex = time.process_time() - start
    start = time.process_time()
    for first in range(0, len(clips), params.batch_size):
        chunk = slice(first, first + params.batch_size)
        flow_stage.write_sequences(clips[chunk], items[chunk], args.out, params)
    sequence = time.process_time() - start
    print(f"{len(clips)} clips, {args.threads} torch thread(s), CPU seconds: onset -> apex flow "
          f"{onset_apex:.1f}, sequence (K = {params.sequence_frames}, {params.sequence_size} px) "
          f"{sequence:.1f}")


if __name__ == "__main__":
    main()
