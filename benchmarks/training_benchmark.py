"""Time a full leave-one-subject-out run of each model on a random 150-clip FeatureSet.

Usage: ``.venv/bin/python benchmarks/training_benchmark.py [--threads 2] [--models ststnet ...]``

The data are ``mer.training.toy.toy_features`` at 128 x 128 (16 subjects, 150 clips), the folds
``mer.evaluation.folds.loso_folds`` with one validation subject each, and the hyper-parameters
:data:`DEFAULTS` (those proposed for params.yaml). Prints per-fold and total seconds.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from mer.evaluation.folds import loso_folds
from mer.training import FeatureSet, TrainConfig, run_fold
from mer.training.toy import toy_features

#: Proposed defaults per model: (hparams, TrainConfig).
DEFAULTS: dict[str, tuple[dict[str, Any], TrainConfig]] = {
    "ststnet": ({"input_size": 28, "dropout": 0.0},
                TrainConfig(epochs=60, batch_size=32, lr=5e-3, weight_decay=1e-4, device="cpu")),
    "micro_attention": ({"input_size": 64, "widths": (16, 32, 64, 128), "attention": True,
                         "dropout": 0.0},
                        TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-4,
                                    device="cpu")),
}


def benchmark_data(n_subjects: int = 16, n_clips: int = 150, size: int = 128) -> FeatureSet:
    """Return ``n_clips`` toy clips of ``size x size`` spread over ``n_subjects`` subjects."""
    per_subject = -(-n_clips // n_subjects)
    data = toy_features(n_subjects=n_subjects, clips_per_subject=per_subject, size=size)
    surplus = n_subjects * per_subject - n_clips
    drop = [s * per_subject + per_subject - 1 for s in range(surplus)]  # last clip of the first
    return data.subset(np.setdiff1d(np.arange(len(data)), drop))


def time_loso(name: str, data: FeatureSet, hparams: dict[str, Any], config: TrainConfig,
              max_folds: int) -> float:
    """Run the first ``max_folds`` folds of ``name``; print and return the total seconds."""
    folds = loso_folds(list(data.subjects), n_val_subjects=1, seed=0)[:max_folds]
    total = 0.0
    for fold in folds:
        start = time.perf_counter()
        result = run_fold(name, hparams, config, data, fold)
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{name} fold {fold.index:2d} ({len(result.train_indices)} train clips): "
              f"{seconds:6.2f} s  train loss {result.history[-1]['train_loss']:.3f}", flush=True)
    print(f"{name}: {len(folds)} folds in {total:.1f} s", flush=True)
    return total


def main() -> None:
    """Parse the arguments and time the LOSO of each model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--models", nargs="+", default=sorted(DEFAULTS), choices=sorted(DEFAULTS))
    parser.add_argument("--max-folds", type=int, default=16, help="time only the first folds")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = benchmark_data()
    print(f"{len(data)} clips, {len(set(data.subjects))} subjects, "
          f"{tuple(data.inputs['flow'].shape[-2:])} px, {args.threads} torch threads", flush=True)
    totals = {name: time_loso(name, data, *DEFAULTS[name], args.max_folds)
              for name in args.models}
    print("total: " + ", ".join(f"{k} {v:.1f} s" for k, v in totals.items())
          + f"; all {sum(totals.values()):.1f} s")


if __name__ == "__main__":
    main()
