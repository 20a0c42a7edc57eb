"""Time (and score) LOSO of ``attr_contrastive`` on the embedded default, with and without the
contrastive term (and the au_text stage when its table is not there yet).

Usage::

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/attr_contrastive_benchmark.py \
        [--threads 2] [--lambdas 0.5 0] [--au-text /tmp/mer_au_text.parquet] [--epochs 30] \
        [--input-size 32] [--temperature 0.1] [--max-folds 16] [--shuffled] \
        [--predictions OUT.parquet]

Reads ``data/interim/micro/clips.parquet``, ``data/processed/micro/flow.parquet`` and the clip
sequences ``data/processed/micro/sequence/`` as the pipeline left them (run ``dvc repro
flow@micro`` first). The AU-text table is read from
``--au-text`` if it exists, else computed with the real encoder (and written there). The FeatureSet
is ``mer.stages.train.load_features`` of the model's inputs (frames, flows) plus the
``au_text`` inputs joined on dataset, subject and
clip, i.e. what ``mer train --au-text`` builds. The folds are ``loso_folds`` with one validation
subject, the settings :data:`HPARAMS` and :data:`CONFIG` (those proposed for params.yaml). Prints
per-fold and total seconds, then UF1/UAR from ``mer.evaluation.results.summarise``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import torch

from mer.evaluation.folds import loso_folds
from mer.evaluation.results import summarise
from mer.facs.embeddings import au_text_inputs, au_text_table
from mer.stages.train import load_features
from mer.training import FeatureSet, TrainConfig
from mer.training.registry import get_trainer, resolve_options

#: Proposed params.yaml settings.
HPARAMS: dict[str, Any] = {"input_size": 32, "widths": (16, 32, 64), "embed_dim": 128,
                           "text_dim": 384, "dropout": 0.0}
CONFIG = TrainConfig(epochs=30, batch_size=32, lr=2e-3, weight_decay=1e-4, device="cpu")
TEMPERATURE = 0.1


def benchmark_data(clips: Path, flow: Path, flow_dir: Path, au_text: Path,
                   sequence_dir: Path) -> FeatureSet:
    """The labelled clips' FeatureSet with the au_text inputs (the stage runs if needed)."""
    if not au_text.exists():
        from mer.facs.text import load_encoder  # noqa: PLC0415

        start = time.perf_counter()
        encoder = load_encoder()
        loaded = time.perf_counter()
        table = au_text_table(pq.read_table(clips), encoder, source=str(clips))
        done = time.perf_counter()
        au_text.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, au_text)
        print(f"au_text: encoder loaded in {loaded - start:.1f} s, {table.num_rows} clips "
              f"described and embedded in {done - loaded:.1f} s", flush=True)
    data = load_features(flow, flow_dir, keys=("frames", "flows"), sequence_dir=sequence_dir)
    rows = [r for r in pq.read_table(flow).to_pylist() if r["label"] is not None]
    extra = au_text_inputs(pq.read_table(au_text), [r["dataset"] for r in rows],
                           [r["subject"] for r in rows], [r["clip"] for r in rows],
                           source=str(au_text))
    return FeatureSet(inputs={**data.inputs, **extra}, labels=data.labels,
                      subjects=data.subjects, clips=data.clips)


def run(data: FeatureSet, lam: float, max_folds: int, config: TrainConfig = CONFIG,
        hparams: dict[str, Any] | None = None, temperature: float = TEMPERATURE,
        shuffled: bool = False) -> pd.DataFrame:
    """LOSO of attr_contrastive with ``lambda`` = ``lam`` (texts shuffled within class if
    ``shuffled``); print times; return predictions."""
    folds = loso_folds(sorted(set(data.subjects)), n_val_subjects=1, seed=0)[:max_folds]
    trainer = get_trainer("contrastive")
    options = {"lambda": lam, "temperature": temperature,
               "shuffle_texts": "within_class" if shuffled else "none"}
    name = f"attr_contrastive_lambda{lam:g}" + ("_shuffled" if shuffled else "")
    hparams = HPARAMS if hparams is None else hparams
    results, total, total_cpu = [], 0.0, 0.0
    for fold in folds:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = trainer("attr_contrastive", hparams, config, data, fold, init_state=None,
                         macro=None, options=resolve_options("contrastive", options),
                         progress=False)
        seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        total, total_cpu = total + seconds, total_cpu + cpu
        last = result.history[-1]
        print(f"lambda {lam:g} fold {fold.index:2d} ({len(result.train_indices)} train clips): "
              f"{seconds:5.1f} s wall, {cpu:5.1f} s CPU  CE {last['train_loss']:.3f}  "
              f"InfoNCE {last.get('train_contrastive', float('nan')):.3f}", flush=True)
        results.append(result)
    print(f"lambda {lam:g}: {len(folds)} folds in {total:.1f} s wall, {total_cpu:.1f} s CPU "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    frames = []
    for result in results:
        index = result.test_indices
        dataset_subject = [key.split("/", 1) for key in data.subjects[index]]
        frames.append(pd.DataFrame({
            "model": name,
            "dataset": [d for d, _ in dataset_subject], "subject": [s for _, s in dataset_subject],
            "clip": list(data.clips[index]), "y_true": data.labels[index].numpy(),
            "y_pred": result.probs.argmax(axis=1)}))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    """Parse the arguments, build the data, time and score each lambda."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.5, 0.0])
    parser.add_argument("--max-folds", type=int, default=16, help="run only the first folds")
    parser.add_argument("--epochs", type=int, default=CONFIG.epochs)
    parser.add_argument("--input-size", type=int, default=HPARAMS["input_size"])
    parser.add_argument("--temperature", type=float, default=TEMPERATURE)
    parser.add_argument("--clips", type=Path, default=Path("data/interim/micro/clips.parquet"))
    parser.add_argument("--flow", type=Path, default=Path("data/processed/micro/flow.parquet"))
    parser.add_argument("--flow-dir", type=Path, default=Path("data/processed/micro/flow"))
    parser.add_argument("--sequence-dir", type=Path,
                        default=Path("data/processed/micro/sequence"))
    parser.add_argument("--au-text", type=Path, default=Path("/tmp/mer_au_text.parquet"))
    parser.add_argument("--predictions", type=Path, help="also write the pooled predictions")
    parser.add_argument("--shuffled", action="store_true",
                        help="the within-class shuffled-text control (texts permuted per class)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = benchmark_data(args.clips, args.flow, args.flow_dir, args.au_text, args.sequence_dir)
    described = int((data.inputs["au_text"].norm(dim=1) > 0).sum())
    print(f"{len(data)} clips ({described} with AU text), {len(set(data.subjects))} subjects, "
          f"{args.threads} torch threads", flush=True)
    config = CONFIG.model_copy(update={"epochs": args.epochs})
    hparams = {**HPARAMS, "input_size": args.input_size}
    frames = [run(data, lam, args.max_folds, config, hparams, args.temperature, args.shuffled)
              for lam in args.lambdas]
    pooled = pd.concat(frames, ignore_index=True)
    if args.predictions is not None:
        pooled.to_parquet(args.predictions)
    scores = summarise(pooled, n_resamples=200)
    for model, entry in scores.items():
        print(model, json.dumps({k: {m: entry[k][m] for m in ("uf1", "uar", "accuracy")}
                                 for k in entry}))


if __name__ == "__main__":
    main()
