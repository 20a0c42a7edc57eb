"""Time (and score) a leave-one-subject-out run of LightmanNet with the ``meta_auxiliary`` trainer.

Usage::

    .venv/bin/python benchmarks/lightman_benchmark.py [--threads 2] [--variants full no_aux ...]
        [--flow data/processed/micro/flow.parquet --flow-dir data/processed/micro/flow]
        [--macro-flow data/processed/macro/flow.parquet --macro-flow-dir data/processed/macro/flow]
        [--label-noise 0.2] [--shots-per-class 2]

The data are the on-disk flow features (the embedded default: 136 micro clips over 16 subjects,
49 labelled CK+ macro clips), the folds ``mer.evaluation.folds.loso_folds`` with one validation
subject each (seed 0), the options :data:`VARIANTS` (``full`` is the proposed default). Prints
per-variant wall and CPU seconds and the pooled UF1 / UAR (``mer.evaluation.results.summarise``).
With ``--label-noise`` / ``--shots-per-class`` the training clips of each fold are perturbed by
``mer.training.robustness.perturb_fold`` first.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from mer.config import ModelParams
from mer.evaluation.folds import loso_folds
from mer.evaluation.results import summarise
from mer.stages.train import TrainJob, load_features, predictions_frame
from mer.training import FeatureSet, FoldResult, TrainConfig
from mer.training.robustness import perturb_fold, restore_positions
from mer.training.registry import get_trainer, resolve_options

#: The proposed params.yaml entry (hparams, train, trainer_options of ``full``).
HPARAMS: dict[str, Any] = {}
TRAIN: dict[str, Any] = {"weight_decay": 1e-4, "hflip": True, "max_shift": 0.05}
#: Variants: trainer_options on top of the defaults (``MetaAuxOptions``).
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "second_order": {"second_order": True},
    "no_aux": {"use_aux": False},
    "no_meta": {"meta": False},
}


def run_variant(name: str, data: FeatureSet, macro: FeatureSet, options: dict[str, Any],
                max_folds: int, label_noise: float, shots: int | None) -> tuple[float, float,
                                                                                  list[FoldResult]]:
    """Run the LOSO folds of one variant; return (wall s, CPU s, fold results)."""
    folds = loso_folds(sorted(set(data.subjects)), n_val_subjects=1, seed=0)[:max_folds]
    config = TrainConfig(**TRAIN, device="cpu", seed=0)
    trainer = get_trainer("meta_auxiliary")
    results = []
    wall, cpu = time.perf_counter(), time.process_time()
    for fold in folds:
        start = time.perf_counter()
        perturbed = perturb_fold(data, fold, label_noise=label_noise, shots_per_class=shots,
                                 seed=0)
        result = trainer("lightman", HPARAMS, config, perturbed.data, fold, init_state=None,
                         macro=macro, options=resolve_options("meta_auxiliary", options),
                         progress=False)
        results.append(restore_positions(result, perturbed))
        print(f"{name} fold {fold.index:2d} ({len(result.train_indices)} train clips): "
              f"{time.perf_counter() - start:6.2f} s", flush=True)
    return time.perf_counter() - wall, time.process_time() - cpu, results


def main() -> None:
    """Parse the arguments, run each variant, print times and scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--variants", nargs="+", default=sorted(VARIANTS), choices=sorted(VARIANTS))
    parser.add_argument("--max-folds", type=int, default=16, help="time only the first folds")
    parser.add_argument("--episodes", type=int, help="override the episodes of every variant")
    parser.add_argument("--label-noise", type=float, default=0.0)
    parser.add_argument("--shots-per-class", type=int)
    parser.add_argument("--flow", type=Path, default=Path("data/processed/micro/flow.parquet"))
    parser.add_argument("--flow-dir", type=Path, default=Path("data/processed/micro/flow"))
    parser.add_argument("--macro-flow", type=Path,
                        default=Path("data/processed/macro/flow.parquet"))
    parser.add_argument("--macro-flow-dir", type=Path, default=Path("data/processed/macro/flow"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_features(args.flow, args.flow_dir)
    macro = load_features(args.macro_flow, args.macro_flow_dir)
    print(f"{len(data)} micro clips, {len(set(data.subjects))} subjects, {len(macro)} macro "
          f"clips, {args.threads} torch threads, label noise {args.label_noise}, shots "
          f"{args.shots_per_class}", flush=True)
    lines = []
    for name in args.variants:
        options = dict(VARIANTS[name])
        if args.episodes is not None:
            options["episodes"] = args.episodes
        wall, cpu, results = run_variant(name, data, macro, options, args.max_folds,
                                         args.label_noise, args.shots_per_class)
        job = TrainJob(f"lightman_{name}", ModelParams(name="lightman"), TrainConfig(),
                       resolve_options("meta_auxiliary", options), (0,), [],
                       args.label_noise, args.shots_per_class)
        scores = summarise(predictions_frame(job, data, results, seed=0), n_resamples=10)
        entry = scores[f"lightman_{name}"]["all"]
        lines.append(f"{name:>13}: {len(results)} folds in {wall:6.1f} s wall, {cpu:6.1f} s CPU;"
                     f" UF1 {entry['uf1']:.3f} UAR {entry['uar']:.3f} acc {entry['accuracy']:.3f}")
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
