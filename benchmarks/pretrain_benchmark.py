"""Time MA2MI pretraining on the embedded default's aligned macro clips; print throughput and
peak memory.

Usage: ``.venv/bin/python benchmarks/pretrain_benchmark.py [--threads 2] [--epochs 20]
[--faces data/interim/macro/faces.parquet --faces-dir data/interim/macro/faces]``

Needs the `faces@macro` stage's outputs. Prints the seconds spent loading and pretraining, the
throughput in macro clips per second (clip-epochs: each epoch draws ``samples_per_clip``
triplets from every clip) and in triplets per second, the first and last epoch's loss against
the "nothing moves" baseline, and the process's peak resident memory (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

from mer.models import create_model
from mer.pretraining import MA2MIConfig, pretrain
from mer.stages.pretrain import load_macro_clips


def main() -> None:
    """Parse the arguments, load the clips, pretrain once and print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=Path("data/interim/macro/faces.parquet"))
    parser.add_argument("--faces-dir", type=Path, default=Path("data/interim/macro/faces"))
    parser.add_argument("--threads", type=int, default=2)
    defaults = MA2MIConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--samples-per-clip", type=int, default=defaults.samples_per_clip)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = create_model("miacnet")
    start = time.perf_counter()
    macro = load_macro_clips(args.faces, args.faces_dir, model.input_size)
    loaded = time.perf_counter() - start
    config = MA2MIConfig(epochs=args.epochs, samples_per_clip=args.samples_per_clip)
    start = time.perf_counter()
    result = pretrain(macro.frames, model, config, progress=True)
    seconds = time.perf_counter() - start
    first, last = result.history[0], result.history[-1]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"threads {torch.get_num_threads()}; {result.n_clips} clips loaded in {loaded:.1f} s")
    print(f"pretrain: {config.epochs} epochs in {seconds:.1f} s = "
          f"{result.n_clips * config.epochs / seconds:.1f} clips/s, "
          f"{result.n_triplets / seconds:.0f} triplets/s")
    print(f"l1/copy_l1: epoch 1 {first['l1'] / first['copy_l1']:.3f}, "
          f"epoch {config.epochs} {last['l1'] / last['copy_l1']:.3f} "
          f"(loss {first['loss']:.4f} -> {last['loss']:.4f})")
    print(f"peak memory (ru_maxrss): {peak_kib / 2**20:.2f} GiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
