"""Stage `pretrain`: MA2MI pretraining of MIACNet's encoders on the aligned macro-expression clips.

``mer pretrain --faces data/interim/macro/faces.parquet --faces-dir data/interim/macro/faces
--micro-clips data/interim/micro/clips.parquet [--macro-identities CSV --micro-identities CSV]
--out models/pretrain/ma2mi.pt --config-out models/pretrain/config.yaml --params params.yaml``

Writes a full MIACNet state dict (``torch.load(..., weights_only=True)``; the encoders and gate
pretrained, the other weights initialised as ``fit`` initialises them with ``pretrain.seed``), to
pass to ``mer train --pretrained`` for a model entry with ``pretrain.kind: checkpoint``, and
beside it the merged configuration: params, the subject-overlap check, clip counts, the history.
"""

from __future__ import annotations

import argparse
import csv
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

from mer.config import MA2MIParams, load_params
from mer.data.atomic import atomic_path, write_text
from mer.evaluation.folds import subject_keys
from mer.flow.features import to_grey
from mer.models import create_model
from mer.models.miacnet import PRETRAINED_PREFIXES
from mer.pretraining import (
    complete_state,
    find_overlap,
    prepare_clips,
    pretrain,
    resolve_overlap,
)

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
    parser.add_argument("--out", type=Path, required=True, help="state dict (torch.save)")
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
    frames = [f for f, keep in zip(macro.frames, decision.keep, strict=True) if keep]
    start = time.perf_counter()
    result = pretrain(frames, model, params.config(), progress=not args.no_progress)
    seconds = time.perf_counter() - start
    state = complete_state(model, result.state_dict, seed=params.seed, source="MA2MI encoders")
    with atomic_path(args.out) as tmp:
        torch.save(state, tmp)
    write_text(args.config_out, yaml.safe_dump(_merged(args, params, macro, decision.record,
                                                       result, seconds), sort_keys=True))
    logger.info("MA2MI: %d clips, %d epochs in %.1f s; wrote %s", result.n_clips,
                params.epochs, seconds, args.out)
    return 0


def _merged(args: argparse.Namespace, params: MA2MIParams, macro: MacroClips,
            overlap: Mapping[str, Any], result: Any, seconds: float) -> dict[str, Any]:
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
                   "micro_identities": str(args.micro_identities or "")},
        "clips": {"aligned": len(macro.clips), "not_aligned_skipped": macro.skipped,
                  "used": result.n_clips, "triplets": result.n_triplets},
        "overlap": dict(overlap),
        "history": result.history,
        "lineage": {"torch": str(torch.__version__), "torch_threads": torch.get_num_threads(),
                    "seconds": round(seconds, 2)},
    }
