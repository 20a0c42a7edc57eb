"""Stage `train`: leave-one-subject-out training of one model entry of params.yaml.

The folds are dispatched by the `mer-train` flow (``flows/train.py``, ``mer train``), once per
training seed, in the same folds; this module holds the stage's I/O: reading the flow features,
resolving the configuration (every option with its default filled in, before any work), writing
the first seed's checkpoints beside that resolved configuration, and every seed's predictions.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
import yaml

from mer.config import ModelParams, Params
from mer.models import create_model, default_hparams
from mer.models.base import SEQUENCE_INPUTS
from mer.data.atomic import write_bytes, write_text
from mer.data.schema import LABELS
from mer.evaluation.folds import Fold, loso_folds, subject_keys
from mer.evaluation.results import PROB_COLUMNS, write_predictions
from mer.facs.embeddings import au_text_inputs
from mer.training import FeatureSet, TrainConfig
from mer.training.data import needs_sequence
from mer.training.loso import FoldResult
from mer.training.registry import TrainerOptions, resolve_options


@dataclass(frozen=True)
class TrainJob:
    """Everything one model's LOSO run needs, built from params.yaml."""

    entry: str  # the params.yaml key under `models` or `ablations`
    params: ModelParams  # an ablation already applied to its base
    config: TrainConfig  # of the first seed; the others differ only in ``seed``
    options: TrainerOptions  # the trainer's options, every default filled in
    seeds: tuple[int, ...]  # one run per seed, in the same folds
    folds: list[Fold]
    label_noise: float  # robustness: share of training labels flipped (0 = clean)
    shots_per_class: int | None  # robustness: training clips kept per class and subject

    def for_seed(self, seed: int) -> TrainJob:
        """The same job trained with ``seed`` (weights, batch order, augmentation, noise)."""
        return dataclasses.replace(self, config=self.config.model_copy(update={"seed": seed}),
                                   seeds=(seed,))

    def resolved(self) -> dict[str, Any]:
        """Every setting of this job with its default filled in (written beside its outputs)."""
        return {"name": self.params.name,
                "hparams": {**default_hparams(self.params.name), **self.params.hparams},
                "train": self.config.model_dump(exclude={"seed"}),
                "pretrain": self.params.pretrain.model_dump(mode="json"),
                "trainer": self.params.trainer,
                "trainer_options": self.options.model_dump(by_alias=True),
                "seeds": list(self.seeds), "label_noise": self.label_noise,
                "shots_per_class": self.shots_per_class}


#: The inputs the flow folder holds (the sequence inputs are in the sequence folder).
IMAGE_INPUTS: tuple[str, ...] = ("flow", "apex", "onset")


def _labelled_rows(flow_table: Path) -> list[dict[str, Any]]:
    rows = [r for r in pq.read_table(flow_table).to_pylist() if r["label"] is not None]
    if not rows:
        raise ValueError(f"{flow_table}: no labelled clip to train on")
    return rows


def labelled_subjects(flow_table: Path) -> list[str]:
    """The subject key (``"<dataset>/<subject>"``) of each labelled clip of the flow table."""
    rows = _labelled_rows(flow_table)
    return list(subject_keys([r["dataset"] for r in rows], [r["subject"] for r in rows]))


def load_features(flow_table: Path, flow_dir: Path, au_text: Path | None = None, *,
                  keys: Sequence[str] = IMAGE_INPUTS,
                  sequence_dir: Path | None = None) -> FeatureSet:
    """Read the labelled clips' inputs ``keys`` (and AU-text embeddings) into a FeatureSet.

    Inputs (each only if in ``keys``, which a model declares as its ``input_keys``): ``flow``
    (N, 3, H, W) = (u, v, strain) in pixels; ``apex``, ``onset`` (N, 1, H, W) grey in [0, 1],
    from ``flow_dir``; ``frames`` (N, 3, K, S, S) RGB in [0, 1] and ``flows`` (N, 2, K - 1, S, S)
    in pixels, from ``sequence_dir`` (the flow stage's sequences). With ``au_text`` (stage
    `au_text`) also ``au_text``, ``au_text_mirrored``, ``au_set``, ``au_set_mirrored`` (N, D).
    Clips without a composite label are left out.

    Raises:
        ValueError: an unknown key, or sequence inputs asked for without ``sequence_dir``.
    """
    unknown = sorted(set(keys) - set(IMAGE_INPUTS) - SEQUENCE_INPUTS)
    if unknown:
        raise ValueError(f"load_features: unknown input(s) {unknown}")
    if needs_sequence(keys) and sequence_dir is None:
        raise ValueError(f"load_features: inputs {sorted(SEQUENCE_INPUTS & set(keys))} need the "
                         "flow stage's sequences (mer train --sequence-dir; flow.sequence_frames "
                         "> 0)")
    rows = _labelled_rows(flow_table)
    columns: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    for row in rows:
        if set(keys) & set(IMAGE_INPUTS):
            with np.load(flow_dir / row["path"]) as arrays:
                _read_images(arrays, columns)
        if needs_sequence(keys) and sequence_dir is not None:
            with np.load(sequence_dir / row["path"]) as arrays:
                _read_sequence(arrays, columns, sequence_dir / row["path"])
    inputs = {key: torch.from_numpy(np.stack(values).astype(np.float32, copy=False))
              for key, values in columns.items()}
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


def _read_images(arrays: Mapping[str, np.ndarray], columns: dict[str, list[np.ndarray]]) -> None:
    """Append one clip's flow-folder inputs among ``columns``' keys."""
    if "flow" in columns:
        columns["flow"].append(np.stack([arrays["u"], arrays["v"], arrays["strain"]]))
    for key in ("apex", "onset"):
        if key in columns:
            columns[key].append(arrays[key][None].astype(np.float32) / 255.0)


def _read_sequence(arrays: Mapping[str, np.ndarray], columns: dict[str, list[np.ndarray]],
                   path: Path) -> None:
    """Append one clip's sequence inputs among ``columns``' keys (frames to channel-first)."""
    frames, flows = arrays["frames"], arrays["flows"]
    if frames.ndim != 4 or flows.shape[0] != frames.shape[0] - 1:
        raise ValueError(f"{path}: frames {frames.shape} and flows {flows.shape} must be "
                         "(K, S, S, 3) and (K - 1, 2, S, S)")
    if "frames" in columns:
        columns["frames"].append(frames.transpose(3, 0, 1, 2).astype(np.float32) / 255.0)
    if "flows" in columns:
        columns["flows"].append(flows.transpose(1, 0, 2, 3))


def model_inputs(params: ModelParams) -> tuple[str, ...]:
    """The inputs the entry's model declares (its ``input_keys``, which may depend on its
    hyper-parameters), so that only those are read."""
    return tuple(create_model(params.name, **params.hparams).input_keys)


def make_job(params: Params, entry: str, subjects: Sequence[str], condition: str | None = None,
             seeds: Sequence[int] | None = None) -> TrainJob:
    """Resolve one model entry (an ablation applied to its base) with the shared training
    settings, check its trainer options, and make its LOSO folds over ``subjects``.

    ``condition`` names a params.yaml ``robustness`` entry whose label noise and shots per
    class replace those of ``train``; ``seeds`` replace ``train.seeds`` (the folds are always
    drawn with ``train.seeds[0]``, so every seed list shares them).

    Raises:
        ValueError: naming the params.yaml key, for an unknown entry, condition, trainer,
            option or hyper-parameter, or an out-of-range value.
    """
    try:
        model = params.entry(entry)
    except ValueError as error:
        raise ValueError(f"params.yaml: {error}") from error
    try:
        config = TrainConfig(**{"seed": (seeds or params.train.seeds)[0], **model.train})
        unknown = sorted(set(model.hparams) - set(default_hparams(model.name)))
        if unknown:
            raise ValueError(f"unknown hyper-parameter(s) {unknown} of model {model.name!r}")
        options = resolve_options(model.trainer, model.trainer_options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"params.yaml {entry}: {error}") from error
    folds = loso_folds(sorted(set(subjects)), n_val_subjects=params.train.n_val_subjects,
                       seed=params.train.seeds[0])
    perturbation = params.train
    if condition is not None:
        if condition not in params.robustness:
            raise ValueError(f"params.yaml: no robustness.{condition} "
                             f"(known: {', '.join(params.robustness) or 'none'})")
        perturbation = params.robustness[condition]
    return TrainJob(entry, model, config, options, tuple(seeds or params.train.seeds), folds,
                    perturbation.label_noise, perturbation.shots_per_class)


def predictions_frame(job: TrainJob, data: FeatureSet, results: list[FoldResult],
                      seed: int) -> pd.DataFrame:
    """One row per clip: model entry, dataset, subject, clip, fold, y_true, y_pred, probs and
    the training ``seed`` of the run."""
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
        frame["seed"] = np.int64(seed)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_outputs(job: TrainJob, data: FeatureSet, runs: Mapping[int, list[FoldResult]],
                  pretrained: dict[str, torch.Tensor] | None, out_dir: Path,
                  predictions: Path, lineage: dict[str, Any]) -> None:
    """Write the first seed's fold checkpoints (what `mer predict` loads), the resolved
    configuration, every seed's training histories and predictions (``runs``: seed -> folds)."""
    for result in runs[job.seeds[0]]:
        save_state(out_dir / f"fold_{result.fold_index:02d}.pt", result.state_dict)
    if pretrained is not None:
        save_state(out_dir / "pretrained.pt", pretrained)
    merged = {"model": job.entry, "params": job.params.model_dump(mode="json"),
              "resolved": job.resolved(), "lineage": lineage,
              "folds": [asdict(fold) for fold in job.folds]}
    write_text(out_dir / "config.yaml", yaml.safe_dump(merged, sort_keys=True))
    histories = {str(seed): {str(r.fold_index): r.history for r in results}
                 for seed, results in runs.items()}
    write_text(out_dir / "history.json", json.dumps(histories, indent=1, sort_keys=True) + "\n")
    write_predictions(predictions, pd.concat(
        [predictions_frame(job, data, results, seed) for seed, results in runs.items()],
        ignore_index=True))


def save_state(path: Path, state: Mapping[str, torch.Tensor]) -> None:
    """Save a state dict atomically and byte-reproducibly (load it back with
    ``torch.load(weights_only=True)``): serialised in memory first, because ``torch.save`` to a
    file names the archive's folder after that file, here the random temporary name."""
    buffer = io.BytesIO()
    torch.save({key: value.detach().cpu() for key, value in state.items()}, buffer)
    write_bytes(path, buffer.getvalue())
