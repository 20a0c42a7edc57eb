"""Stage `pretrain`: MA2MI pretraining of MIACNet's encoders on the aligned macro-expression clips.

``mer pretrain --faces data/interim/macro/faces.parquet --faces-dir data/interim/macro/faces
--micro-clips data/interim/micro/clips.parquet [--macro-identities CSV --micro-identities CSV]
--micro-flow data/processed/micro/flow.parquet --micro-flow-dir data/processed/micro/flow
--out models/pretrain/ma2mi.pt --config-out models/pretrain/config.yaml
--metrics reports/pretrain/metrics.json --params params.yaml``

Writes a full MIACNet state dict (``torch.load(..., weights_only=True)``; the encoders and gate
pretrained, the other weights initialised as ``fit`` initialises them with ``pretrain.seed``), to
pass to ``mer train --pretrained`` for a model entry with ``pretrain.kind: checkpoint``, and
beside it the merged configuration: params, the subject-overlap check, clip counts, the history.

The evidence that pretraining learnt something goes to ``--metrics``: the reconstruction error
on the held-out macro subjects (``pretrain.held_out`` of them, never trained on) against the
copy baseline, and the linear probe (``mer.pretraining.probe``: frozen encoder features ->
logistic regression, LOSO on the labelled micro clips) of the MA2MI state against the random
initialisation it started from, with the paired bootstrap over subjects (``evaluate`` params).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
import yaml
from torch import Tensor

from mer.config import MA2MIParams, Params, load_params
from mer.data.atomic import write_text
from mer.evaluation.folds import loso_folds, subject_keys
from mer.evaluation.paired import paired_difference, runs_of
from mer.flow.features import to_grey
from mer.models import create_model
from mer.models.miacnet import PRETRAINED_PREFIXES, MIACNet
from mer.pretraining import (
    MA2MIResult,
    complete_state,
    find_overlap,
    held_out_error,
    held_out_subjects,
    initial_state,
    linear_probe,
    prepare_clips,
    pretrain,
    resolve_overlap,
)
from mer.stages.train import load_features, save_state

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MacroClips:
    """The aligned macro clips: frames ``(T, 1, s, s)`` in [0, 1], subject keys, clip ids."""

    frames: list[Tensor]
    subjects: list[str]
    clips: list[str]
    skipped: int  # rows of the faces table that were not aligned


def load_macro_clips(faces: Path, faces_dir: Path, size: int) -> MacroClips:
    """Read the aligned clips of the faces table as grey frames resized to ``size``."""
    rows = pq.read_table(faces, columns=["dataset", "subject", "clip", "path", "status"]
                         ).to_pylist()
    aligned = [r for r in rows if r["status"] == "aligned"]
    grey, names = [], []
    for row in aligned:
        name = f"{row['dataset']}/{row['subject']}/{row['clip']}"
        with np.load(faces_dir / row["path"]) as arrays:
            grey.append(to_grey(arrays["frames"], name))
        names.append(name)
    subjects = subject_keys([r["dataset"] for r in aligned], [r["subject"] for r in aligned]) \
        if aligned else np.array([], dtype=object)
    return MacroClips(frames=prepare_clips(grey, size, names=names), subjects=list(subjects),
                      clips=names, skipped=len(rows) - len(aligned))


def read_identities(path: Path) -> dict[str, str]:
    """Read a ``subject,identity[,dataset]`` CSV into ``"[<dataset>/]<subject>" -> identity``."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"subject", "identity"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: identity table lacks column(s) {sorted(missing)}")
        return {(f"{r['dataset']}/{r['subject']}" if r.get("dataset") else r["subject"]):
                r["identity"] for r in reader}


def micro_subjects(clips: Path) -> list[str]:
    """The subject keys of the micro-expression clip table."""
    table = pq.read_table(clips, columns=["dataset", "subject"]).to_pydict()
    return sorted(set(subject_keys(table["dataset"], table["subject"])))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the inputs, the outputs and params.yaml."""
    parser = argparse.ArgumentParser(prog="mer pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, required=True, help="macro faces table (Parquet)")
    parser.add_argument("--faces-dir", type=Path, required=True, help="macro aligned clips")
    parser.add_argument("--micro-clips", type=Path, required=True,
                        help="micro clip table (its subjects are kept out of pretraining)")
    parser.add_argument("--macro-identities", type=Path,
                        help="macro subject,identity CSV (with --micro-identities: overlap by "
                             "identity; without: by subject id)")
    parser.add_argument("--micro-identities", type=Path,
                        help="micro [dataset,]subject,identity CSV")
    parser.add_argument("--micro-flow", type=Path, required=True,
                        help="micro flow table (Parquet): the labelled clips of the linear probe")
    parser.add_argument("--micro-flow-dir", type=Path, required=True, help="micro flow arrays")
    parser.add_argument("--out", type=Path, required=True, help="state dict (torch.save)")
    parser.add_argument("--metrics", type=Path, required=True,
                        help="held-out reconstruction and linear probe (JSON)")
    parser.add_argument("--config-out", type=Path, required=True, help="merged config (YAML)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Pretrain MIACNet's encoders by MA2MI and write the state and its configuration."""
    args = parse_args(argv)
    loaded = load_params(args.params)
    params = loaded.pretrain
    torch.set_num_threads(loaded.runtime.threads)
    model = create_model(params.model, **params.hparams)
    macro = load_macro_clips(args.faces, args.faces_dir, model.input_size)
    identities = [read_identities(p) if p is not None else None
                  for p in (args.macro_identities, args.micro_identities)]
    overlap = find_overlap(macro.subjects, micro_subjects(args.micro_clips),
                           macro_identities=identities[0], micro_identities=identities[1])
    decision = resolve_overlap(macro.subjects, overlap, params.on_overlap,
                               matched_by="identity" if identities[0] else "subject_id")
    if overlap:
        logger.warning("%d macro subject(s) are also micro subjects (%s): %s", len(overlap),
                       params.on_overlap, [o.macro_subject for o in overlap])
    kept = np.flatnonzero(decision.keep)
    held = held_out_subjects([macro.subjects[i] for i in kept], params.held_out, params.seed)
    train_frames = [macro.frames[i] for i, h in zip(kept, held, strict=True) if not h]
    start = time.perf_counter()
    result = pretrain(train_frames, model, params.config(), progress=not args.no_progress)
    seconds = time.perf_counter() - start
    held_out = held_out_error(result.net, [macro.frames[i] for i in kept[held]], params.config(),
                              seed=params.seed)
    state = complete_state(model, result.state_dict, seed=params.seed, source="MA2MI encoders")
    save_state(args.out, state)
    held_subjects = sorted({macro.subjects[i] for i in kept[held]})
    write_text(args.config_out, yaml.safe_dump(_merged(args, params, macro, decision.record,
                                                       result, held_subjects),
                                               sort_keys=True))
    logger.info("MA2MI: %d clips, %d epochs in %.1f s (%.1f clips/s); held-out error / copy "
                "%.3f; wrote %s", result.n_clips, params.epochs, seconds,
                result.n_clips * params.epochs / max(seconds, 1e-9), held_out["ratio"], args.out)
    metrics = {"reconstruction": {"held_out": {**held_out, "subjects": len(held_subjects),
                                               "clips": int(held.sum())},
                                  "train_last_epoch": result.history[-1]},
               "probe": _probe(loaded, model, state, args)}
    write_text(args.metrics, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return 0


def _probe(params: Params, model: MIACNet, state: dict[str, Tensor],
           args: argparse.Namespace) -> dict[str, Any]:
    """Linear probe of the MA2MI state against the random initialisation it started from."""
    data = load_features(args.micro_flow, args.micro_flow_dir)
    folds = loso_folds(list(data.subjects), n_val_subjects=0, seed=params.train.seeds[0])
    states = {"ma2mi": state, "random_init": initial_state(model, params.pretrain.seed)}
    predictions = linear_probe(model, states, data, folds)
    runs = {name: runs_of(predictions[predictions["entry"] == name]) for name in states}
    difference = paired_difference(runs["ma2mi"], runs["random_init"],
                                   n_resamples=params.evaluate.n_resamples,
                                   seed=params.evaluate.seed)
    logger.info("linear probe UF1: MA2MI %.3f, random init %.3f, difference %.3f %s",
                difference["uf1"]["a"], difference["uf1"]["b"], difference["uf1"]["diff"],
                difference["uf1"]["ci95"])
    return {"clips": len(data), "subjects": len(folds), "difference": difference,
            "uf1": {"ma2mi": difference["uf1"]["a"], "random_init": difference["uf1"]["b"]},
            "uar": {"ma2mi": difference["uar"]["a"], "random_init": difference["uar"]["b"]}}


def _merged(args: argparse.Namespace, params: MA2MIParams, macro: MacroClips,
            overlap: Mapping[str, Any], result: MA2MIResult,
            held_subjects: Sequence[str]) -> dict[str, Any]:
    """The configuration written beside the state."""
    return {
        "stage": "pretrain",
        "method": "ma2mi",
        "params": params.model_dump(mode="json"),
        "ma2mi_config": params.config().model_dump(),
        "init_seed": params.seed,
        "pretrained_prefixes": list(PRETRAINED_PREFIXES),
        "n_pretrained_keys": len(result.state_dict),
        "inputs": {"faces": str(args.faces), "faces_dir": str(args.faces_dir),
                   "micro_clips": str(args.micro_clips),
                   "macro_identities": str(args.macro_identities or ""),
                   "micro_identities": str(args.micro_identities or ""),
                   "micro_flow": str(args.micro_flow), "micro_flow_dir": str(args.micro_flow_dir)},
        "clips": {"aligned": len(macro.clips), "not_aligned_skipped": macro.skipped,
                  "used": result.n_clips, "pairs": result.n_pairs,
                  "held_out_subjects": list(held_subjects)},
        "overlap": dict(overlap),
        "history": result.history,
        "lineage": {"torch": str(torch.__version__), "torch_threads": torch.get_num_threads()},
    }
