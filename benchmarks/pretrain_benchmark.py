"""Time MA2MI pretraining on the embedded default's aligned macro clips; print throughput, the
held-out reconstruction against the copy baseline, and peak memory.

Usage: ``.venv/bin/python benchmarks/pretrain_benchmark.py [--threads 2] [--epochs N]
[--samples-per-clip N] [--faces data/interim/macro/faces.parquet
--faces-dir data/interim/macro/faces]`` (defaults: params.yaml's ``pretrain``).

Needs the `faces@macro` stage's outputs. Holds out ``pretrain.held_out`` of the subjects as the
stage does. Prints the seconds spent loading and pretraining, the throughput in macro clips per
second (clip-epochs: each epoch draws ``samples_per_clip`` frame pairs from every clip) and in
pairs per second, the first and last epoch's error against the "nothing moves" baseline, the
same on the held-out subjects, and the process's peak resident memory (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

from mer.config import load_params
from mer.models import create_model
from mer.pretraining import held_out_error, held_out_subjects, pretrain
from mer.stages.pretrain import load_macro_clips


def main() -> None:
    """Parse the arguments, load the clips, pretrain once and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=Path("data/interim/macro/faces.parquet"))
    parser.add_argument("--faces-dir", type=Path, default=Path("data/interim/macro/faces"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--samples-per-clip", type=int)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params(args.params).pretrain
    model = create_model(params.model, **params.hparams)
    start = time.perf_counter()
    macro = load_macro_clips(args.faces, args.faces_dir, model.input_size)
    loaded = time.perf_counter() - start
    changes = {"epochs": args.epochs, "samples_per_clip": args.samples_per_clip}
    config = params.config().model_copy(
        update={k: v for k, v in changes.items() if v is not None})
    held = held_out_subjects(macro.subjects, params.held_out, params.seed)
    start = time.perf_counter()
    result = pretrain([f for f, h in zip(macro.frames, held, strict=True) if not h], model,
                      config, progress=True)
    seconds = time.perf_counter() - start
    measured = held_out_error(result.net, [f for f, h in zip(macro.frames, held, strict=True)
                                           if h], config, seed=params.seed)
    first, last = result.history[0], result.history[-1]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"threads {torch.get_num_threads()}; {result.n_clips} clips loaded in {loaded:.1f} s")
    print(f"pretrain: {config.epochs} epochs in {seconds:.1f} s = "
          f"{result.n_clips * config.epochs / seconds:.1f} clips/s, "
          f"{result.n_pairs / seconds:.0f} pairs/s")
    print(f"l1/copy_l1: epoch 1 {first['l1'] / first['copy_l1']:.3f}, "
          f"epoch {config.epochs} {last['l1'] / last['copy_l1']:.3f} "
          f"(loss {first['loss']:.4f} -> {last['loss']:.4f}); held-out "
          f"({int(held.sum())} clips) {measured['ratio']:.3f}")
    print(f"peak memory (ru_maxrss): {peak_kib / 2**20:.2f} GiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
