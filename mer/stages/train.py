"""Stage `train`: leave-one-subject-out training of one model entry of params.yaml.

The folds are dispatched by the `mer-train` flow (``flows/train.py``, ``mer train``); this
module holds the stage's I/O: reading the flow features, building the configuration, writing
the checkpoints beside the merged configuration that produced them, and the predictions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
import yaml

from mer.config import ModelParams, Params
from mer.data.atomic import atomic_path, write_text
from mer.data.schema import LABELS
from mer.evaluation.folds import Fold, loso_folds, subject_keys
from mer.evaluation.report import PROB_COLUMNS, write_predictions
from mer.stages.au_text import au_text_inputs
from mer.training import FeatureSet, TrainConfig
from mer.training.loso import FoldResult


@dataclass(frozen=True)
class TrainJob:
    """Everything one model's LOSO run needs, built from params.yaml."""

    entry: str  # the params.yaml key under `models` or `ablations`
    params: ModelParams
    config: TrainConfig
    folds: list[Fold]
    label_noise: float  # robustness: share of training labels flipped (0 = clean)
    shots_per_class: int | None  # robustness: training clips kept per class and subject


def load_features(flow_table: Path, flow_dir: Path, au_text: Path | None = None) -> FeatureSet:
    """Read the labelled clips' flow arrays (and AU-text embeddings) into a FeatureSet.

    Inputs: ``flow`` (N, 3, H, W) = (u, v, strain) in pixels; ``apex``, ``onset`` (N, 1, H, W)
    grey in [0, 1]; with ``au_text`` (stage `au_text`) also ``au_text`` and
    ``au_text_mirrored`` (N, D). Clips without a composite label are left out.
    """
    rows = [r for r in pq.read_table(flow_table).to_pylist() if r["label"] is not None]
    if not rows:
        raise ValueError(f"{flow_table}: no labelled clip to train on")
    flows, apexes, onsets = [], [], []
    for row in rows:
        with np.load(flow_dir / row["path"]) as arrays:
            flows.append(np.stack([arrays["u"], arrays["v"], arrays["strain"]]))
            apexes.append(arrays["apex"][None].astype(np.float32) / 255.0)
            onsets.append(arrays["onset"][None].astype(np.float32) / 255.0)
    inputs = {"flow": torch.from_numpy(np.stack(flows).astype(np.float32)),
              "apex": torch.from_numpy(np.stack(apexes)),
              "onset": torch.from_numpy(np.stack(onsets))}
    if au_text is not None:
        inputs |= au_text_inputs(pq.read_table(au_text), [r["dataset"] for r in rows],
                                 [r["subject"] for r in rows], [r["clip"] for r in rows],
                                 source=str(au_text))
    return FeatureSet(
        inputs=inputs,
        labels=torch.tensor([LABELS.index(r["label"]) for r in rows], dtype=torch.int64),
        subjects=subject_keys([r["dataset"] for r in rows], [r["subject"] for r in rows]),
        clips=np.array([f"{r['dataset']}/{r['subject']}/{r['clip']}" for r in rows], dtype=object),
    )


def make_job(params: Params, entry: str, data: FeatureSet, condition: str | None = None) -> TrainJob:
    """Merge the shared training settings with one model entry; make its LOSO folds.

    ``condition`` names a params.yaml ``robustness`` entry whose label noise and shots per
    class replace those of ``train``.
    """
    entries = {**params.models, **params.ablations}
    if entry not in entries:
        raise ValueError(f"params.yaml: no models.{entry} nor ablations.{entry} "
                         f"(known: {', '.join(entries)})")
    model = entries[entry]
    try:
        config = TrainConfig(**{"seed": params.train.seed, **model.train})
    except TypeError as error:
        raise ValueError(f"params.yaml models.{entry}.train: {error}") from error
    folds = loso_folds(sorted(set(data.subjects)), n_val_subjects=params.train.n_val_subjects,
                       seed=params.train.seed)
    perturbation = params.train
    if condition is not None:
        if condition not in params.robustness:
            raise ValueError(f"params.yaml: no robustness.{condition} "
                             f"(known: {', '.join(params.robustness) or 'none'})")
        perturbation = params.robustness[condition]
    return TrainJob(entry, model, config, folds, perturbation.label_noise,
                    perturbation.shots_per_class)


def predictions_frame(job: TrainJob, data: FeatureSet, results: list[FoldResult]) -> pd.DataFrame:
    """One row per clip: model entry, dataset, subject, clip, fold, y_true, y_pred, probs."""
    frames = []
    for result in results:
        index = np.asarray(result.test_indices)
        dataset_subject = [key.split("/", 1) for key in data.subjects[index]]
        frame = pd.DataFrame({
            "model": job.entry,
            "dataset": [d for d, _ in dataset_subject],
            "subject": [s for _, s in dataset_subject],
            "clip": [clip.split("/", 2)[2] for clip in data.clips[index]],
            "fold": result.fold_index,
            "y_true": data.labels[index].numpy(),
            "y_pred": result.probs.argmax(axis=1),
        })
        for k, column in enumerate(PROB_COLUMNS):
            frame[column] = result.probs[:, k]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_outputs(job: TrainJob, data: FeatureSet, results: list[FoldResult],
                  pretrained: dict[str, torch.Tensor] | None, out_dir: Path,
                  predictions: Path, lineage: dict[str, Any]) -> None:
    """Write fold checkpoints, the merged configuration, training histories and predictions."""
    for result in results:
        _save_state(out_dir / f"fold_{result.fold_index:02d}.pt", result.state_dict)
    if pretrained is not None:
        _save_state(out_dir / "pretrained.pt", pretrained)
    merged = {"model": job.entry, "params": job.params.model_dump(mode="json"),
              "train_config": asdict(job.config), "lineage": lineage,
              "label_noise": job.label_noise, "shots_per_class": job.shots_per_class,
              "folds": [asdict(fold) for fold in job.folds]}
    write_text(out_dir / "config.yaml", yaml.safe_dump(merged, sort_keys=True))
    histories = {str(r.fold_index): r.history for r in results}
    write_text(out_dir / "history.json", json.dumps(histories, indent=1, sort_keys=True) + "\n")
    write_predictions(predictions, predictions_frame(job, data, results))


def _save_state(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Save a state dict atomically (load it back with ``torch.load(weights_only=True)``)."""
    with atomic_path(path) as tmp:
        torch.save({key: value.detach().cpu() for key, value in state.items()}, tmp)
