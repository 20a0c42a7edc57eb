"""Time and score leave-one-subject-out runs of any params.yaml entries (models and ablations:
LightmanNet and its ablations, the plain backbones, the baseline), with paired comparisons.

Usage (on the development corpus, ``mer dev --out dev --seed 1`` then its stages to
``validate_flow``; never on the reported corpus)::

    .venv/bin/python benchmarks/loso_benchmark.py --root dev \
        --entries lightman lightman_no_aux lightman_no_meta micro_attention flow_logreg \
        [--set second_order=true] [--set-trainer meta_auxiliary] [--hparam dropout=0.5] \
        [--train epochs=30] [--seed 0] [--max-folds 16] [--threads 2] \
        [--label-noise 0.2] [--shots-per-class 2] [--out predictions.parquet]

Each entry is resolved as `mer train` does (``mer.stages.train.make_job``: an ablation applied to
its base; ``--set`` overrides ``trainer_options`` of the entries trained by ``--set-trainer``,
``meta_auxiliary`` by default; ``--hparam`` and ``--train`` override the hyper-parameters and the
training config of every listed entry), pretrained on the macro clips if its entry says
``supervised_macro`` (started from the MA2MI-pretrained parts of the pretrain stage's
``models/pretrain/ma2mi.pt`` if it says ``checkpoint``, the rest initialised as the stage does),
and trained on every fold (one seed).
Prints per-entry wall and CPU seconds (pretraining included) and pooled UF1 / UAR, then the
paired difference (subject bootstrap) of the first entry against each other one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

from mer.config import load_params
from mer.evaluation.paired import Pair, compare_entries
from mer.evaluation.results import summarise
from mer.models import create_model
from mer.models.miacnet import PRETRAINED_PREFIXES
from mer.pretraining.transfer import complete_state
from mer.stages.train import (
    TrainJob,
    labelled_subjects,
    load_features,
    make_job,
    model_inputs,
    predictions_frame,
)
from mer.training import FeatureSet, fit
from mer.training.registry import get_trainer, resolve_options
from mer.training.robustness import perturb_fold, restore_positions


def run_entry(job: TrainJob, data: FeatureSet, macro: FeatureSet, max_folds: int,
              checkpoint: Path, pretrain_seed: int) -> pd.DataFrame:
    """Pretrain if asked (or, for ``pretrain.kind: checkpoint``, start from the MA2MI parts of
    ``checkpoint``, the rest initialised with ``pretrain_seed`` as the pretrain stage does), run
    the folds of ``job`` (its one seed); return its predictions."""
    init_state = None
    if job.params.pretrain.kind == "checkpoint":
        pretrained = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model = create_model(job.params.name, **job.params.hparams)
        init_state = complete_state(model, {k: v for k, v in pretrained.items()
                                            if k.startswith(PRETRAINED_PREFIXES)},
                                    seed=pretrain_seed)
    if job.params.pretrain.kind == "supervised_macro":
        config = job.config.model_copy(update={"epochs": job.params.pretrain.epochs,
                                               "lr": job.params.pretrain.lr})
        model = create_model(job.params.name, **job.params.hparams)
        init_state = fit(model, macro, config).state_dict
    trainer = get_trainer(job.params.trainer)
    results = []
    for fold in job.folds[:max_folds]:
        perturbed = perturb_fold(data, fold, label_noise=job.label_noise,
                                 shots_per_class=job.shots_per_class, seed=job.config.seed)
        result = trainer(job.params.name, job.params.hparams, job.config, perturbed.data, fold,
                         init_state=init_state, macro=macro, options=job.options,
                         progress=False)
        results.append(restore_positions(result, perturbed))
    return predictions_frame(job, data, results, seed=job.config.seed)


def _overridden(job: TrainJob, hparams: dict[str, Any], train: dict[str, Any]) -> TrainJob:
    """``job`` with ``hparams`` and ``train`` (TrainConfig fields) over its own."""
    params = job.params.model_copy(update={"hparams": {**job.params.hparams, **hparams}})
    return TrainJob(job.entry, params, job.config.model_copy(update=train), job.options,
                    job.seeds, job.folds, job.label_noise, job.shots_per_class)


def main() -> None:
    """Parse the arguments, run each entry, print times, scores and paired differences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project (params.yaml, data)")
    parser.add_argument("--entries", nargs="+", default=["lightman"])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="trainer_options overrides (YAML) of the entries of --set-trainer")
    parser.add_argument("--set-trainer", default="meta_auxiliary",
                        help="the trainer whose entries --set overrides")
    parser.add_argument("--hparam", nargs="*", default=[], metavar="KEY=VALUE",
                        help="hparams overrides (YAML) of every entry")
    parser.add_argument("--train", nargs="*", default=[], metavar="KEY=VALUE",
                        help="training config overrides (YAML) of every entry")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--max-folds", type=int, default=10_000, help="time only the first folds")
    parser.add_argument("--label-noise", type=float, default=0.0)
    parser.add_argument("--shots-per-class", type=int)
    parser.add_argument("--out", type=Path, help="write the pooled predictions (Parquet)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides, hparams, train = ({k: yaml.safe_load(v) for k, v in (item.split("=", 1)
                                                                   for item in items)}
                                 for items in (args.set, args.hparam, args.train))
    params = load_params(args.root / "params.yaml")
    flow = args.root / "data/processed/micro/flow.parquet"
    jobs = {entry: _overridden(make_job(params, entry, labelled_subjects(flow), seeds=[args.seed]),
                               hparams, train)
            for entry in args.entries}
    keys = sorted({key for job in jobs.values() for key in model_inputs(job.params)})
    data = load_features(flow, args.root / "data/processed/micro/flow",
                         args.root / "data/processed/au_text.parquet", keys=keys,
                         sequence_dir=args.root / "data/processed/micro/sequence")
    macro = load_features(args.root / "data/processed/macro/flow.parquet",
                          args.root / "data/processed/macro/flow")
    print(f"{len(data)} micro clips, {len(set(data.subjects))} subjects, {len(macro)} macro "
          f"clips, {args.threads} torch threads, overrides {overrides} {hparams} {train}",
          flush=True)
    frames, lines = [], []
    for entry in args.entries:
        job = jobs[entry]
        if job.params.trainer == args.set_trainer and overrides:
            options: dict[str, Any] = {**job.options.model_dump(by_alias=True), **overrides}
            job = TrainJob(job.entry, job.params, job.config,
                           resolve_options(job.params.trainer, options), job.seeds, job.folds,
                           job.label_noise, job.shots_per_class)
        job = TrainJob(job.entry, job.params, job.config, job.options, job.seeds, job.folds,
                       args.label_noise, args.shots_per_class)
        wall, cpu = time.perf_counter(), time.process_time()
        frame = run_entry(job, data, macro, args.max_folds,
                          args.root / "models/pretrain/ma2mi.pt", params.pretrain.seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        frames.append(frame)
        scores = summarise(frame, n_resamples=10)[entry]["all"]
        lines.append(f"{entry:>18}: {frame['fold'].nunique()} folds in {wall:6.1f} s wall, "
                     f"{cpu:6.1f} s CPU; UF1 {scores['uf1']:.3f} UAR {scores['uar']:.3f}")
        print(lines[-1], flush=True)
    predictions = pd.concat(frames, ignore_index=True)
    if args.out is not None:
        predictions.to_parquet(args.out)
    pairs = [Pair(args.entries[0], other, "ablation") for other in args.entries[1:]]
    for row in compare_entries(predictions, pairs, n_resamples=1000, seed=0):
        uf1 = row["uf1"]
        lines.append(f"{row['a']} - {row['b']}: UF1 {uf1['diff']:+.3f} "
                     f"[{uf1['ci95'][0]:+.3f}, {uf1['ci95'][1]:+.3f}]")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
