"""`mer train`: the `mer-train` flow, leave-one-subject-out folds as Prefect tasks.

Each training seed runs every fold, in the same folds (``train.seeds``, or ``--seeds-from
experiments`` for `make experiments`). Folds are independent units of work on
:func:`flows.runners.task_runner`: one at a time locally, or on the Dask cluster that
``runtime.dask_address`` names, with no code change. The DVC stage stays an ordinary command.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context

from flows.runners import task_runner
from mer.config import load_params
from mer.models import create_model
from mer.stages.train import (
    TrainJob,
    labelled_subjects,
    load_features,
    make_job,
    model_inputs,
    write_outputs,
)
from mer.training.data import needs_sequence
from mer.training import FeatureSet, FoldResult, fit
from mer.training.robustness import perturb_fold, restore_positions
from mer.training.registry import get_trainer


@task(name="pretrain-macro", cache_policy=NO_CACHE)
def pretrain_macro(job: TrainJob, macro: FeatureSet) -> dict[str, torch.Tensor]:
    """Supervised pretraining on the labelled macro-expression clips (transfer learning)."""
    settings = job.params.pretrain
    config = job.config.model_copy(update={"epochs": settings.epochs, "lr": settings.lr})
    model = create_model(job.params.name, **job.params.hparams)
    return fit(model, macro, config, progress=True, progress_desc="pretrain macro").state_dict


@task(name="fold", task_run_name="fold {index}", cache_policy=NO_CACHE)
def train_fold(job: TrainJob, data: FeatureSet, index: int,
               init_state: dict[str, torch.Tensor] | None,
               macro: FeatureSet | None) -> FoldResult:
    """Fit one fold on its training subjects and predict its held-out subject."""
    fold = job.folds[index]
    trainer = get_trainer(job.params.trainer)
    perturbed = perturb_fold(data, fold, label_noise=job.label_noise,
                             shots_per_class=job.shots_per_class, seed=job.config.seed)
    result = trainer(job.params.name, job.params.hparams, job.config, perturbed.data, fold,
                     init_state=init_state, macro=macro, options=job.options,
                     progress=True)
    result = restore_positions(result, perturbed)  # test clips keep their true labels
    get_run_logger().info("fold %d (%s) done", index, fold.test_subject)
    return result


@flow(name="mer-train")
def train_model(job: TrainJob, data: FeatureSet, macro: FeatureSet | None,
                checkpoint: dict[str, torch.Tensor] | None) -> tuple[
        dict[int, list[FoldResult]], dict[str, torch.Tensor] | None, str]:
    """For each seed: pretrain if asked, then every LOSO fold. Return the results by seed, the
    first seed's initial state, and the run id."""
    runs: dict[int, list[FoldResult]] = {}
    first_state = None
    for seed in job.seeds:
        seeded = job.for_seed(seed)
        pretrained = checkpoint
        if job.params.pretrain.kind == "supervised_macro":
            pretrained = pretrain_macro(seeded, _required(macro, "supervised_macro"))
        futures = train_fold.map(unmapped(seeded), unmapped(data), range(len(job.folds)),
                                 init_state=unmapped(pretrained), macro=unmapped(macro))
        runs[seed] = sorted((future.result() for future in futures), key=lambda r: r.fold_index)
        if seed == job.seeds[0]:
            first_state = pretrained
    return runs, first_state, str(get_run_context().flow_run.id)


def _required(value: FeatureSet | None, why: str) -> FeatureSet:
    if value is None:
        raise ValueError(f"{why} needs the macro-expression clips (--macro-flow, --macro-flow-dir)")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the model entry, the flow features (micro and macro) and the outputs."""
    parser = argparse.ArgumentParser(prog="mer train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="an entry of params.yaml `models`")
    parser.add_argument("--flow", type=Path, required=True, help="micro flow table")
    parser.add_argument("--flow-dir", type=Path, required=True, help="micro flow arrays folder")
    parser.add_argument("--sequence-dir", type=Path,
                        help="micro clip sequences folder (flow stage), for models reading them")
    parser.add_argument("--macro-flow", type=Path, help="macro flow table (for pretraining)")
    parser.add_argument("--macro-flow-dir", type=Path, help="macro flow arrays folder")
    parser.add_argument("--au-text", type=Path,
                        help="AU-text embeddings (stage au_text), for trainer contrastive")
    parser.add_argument("--pretrained", type=Path,
                        help="state dict of a pretraining stage (pretrain.kind: checkpoint)")
    parser.add_argument("--out-dir", type=Path, required=True, help="checkpoints and config")
    parser.add_argument("--predictions", type=Path, required=True, help="predictions (Parquet)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    parser.add_argument("--condition", help="a params.yaml `robustness` entry to train under")
    parser.add_argument("--seeds-from", choices=("train", "experiments"), default="train",
                        help="train with params.yaml train.seeds (default) or experiments.seeds")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Train one model entry leave-one-subject-out and write its outputs."""
    args = parse_args(argv)
    params = load_params(args.params)
    torch.set_num_threads(params.runtime.threads)
    seeds = params.experiments.seeds if args.seeds_from == "experiments" else params.train.seeds
    job = make_job(params, args.model, labelled_subjects(args.flow), args.condition, seeds)
    keys = model_inputs(job.params)
    data = load_features(args.flow, args.flow_dir, args.au_text, keys=keys,
                         sequence_dir=args.sequence_dir)
    macro = None
    if args.macro_flow is not None and args.macro_flow_dir is not None \
            and not needs_sequence(keys):  # no macro sequences: such a model has no macro data
        macro = load_features(args.macro_flow, args.macro_flow_dir, keys=keys)
    checkpoint = None
    if job.params.pretrain.kind == "checkpoint":
        if args.pretrained is None:
            raise ValueError(f"models.{args.model}: pretrain.kind checkpoint needs --pretrained")
        checkpoint = torch.load(args.pretrained, map_location="cpu", weights_only=True)
    logging.getLogger(__name__).info("%s: %d clips, %d folds", args.model, len(data.labels),
                                     len(job.folds))
    run = train_model.with_options(task_runner=task_runner(params))
    runs, pretrained, run_id = run(job, data, macro, checkpoint)
    lineage = {"prefect_flow_run_id": run_id, "torch_threads": torch.get_num_threads(),
               "torch": str(torch.__version__), "device": job.config.device,
               "dask_address": params.runtime.dask_address or None,
               "cpu_count": os.cpu_count()}
    write_outputs(job, data, runs, pretrained, args.out_dir, args.predictions, lineage)
    return 0
