"""Stage `report`: one self-contained HTML page of the results, figures, flow, gates and lineage.

``mer report --metrics reports/metrics.json --predictions reports/predictions.parquet
--quality reports/quality --figures reports/figures --flow-table data/processed/micro/flow.parquet
--flow-dir data/processed/micro/flow --out reports/index.html [--comparisons
reports/comparisons.json] [--attention-models-dir models/default] [--attention-model
models/default/micro_attention]`` inlines every image (base64 PNG; the forest plot inline SVG),
uses no script and no external file, and writes the same bytes for the same inputs. With
``--attention-models-dir`` it shows the attention maps of every trained entry of that folder
whose network exposes attention (none there: no section); ``--attention-model`` names one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mer.data.atomic import write_text
from mer.data.errors import DataError
from mer.data.schema import LABELS
from mer.lineage import audit_metrics
from mer.report import (
    AttentionClip,
    FlowClip,
    ReportInputs,
    build_report,
    choose_clips,
    parse_comparisons,
)

logger = logging.getLogger(__name__)


def read_json(path: Path) -> Any:
    """Read a JSON file; a DataError names it when it is missing or broken."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(path, f"cannot read JSON ({error})") from error


def read_quality(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every gate report under ``folder`` (``clips.json``, ``macro/clips.json`` ...), by path."""
    if not folder.is_dir():
        raise DataError(folder, "quality reports folder not found")
    return [(p.relative_to(folder).as_posix(), read_json(p))
            for p in sorted(folder.rglob("*.json"), key=lambda p: p.relative_to(folder).parts)]


def read_figures(folder: Path) -> list[tuple[str, bytes]]:
    """The PNG figures of ``folder`` by name."""
    if not folder.is_dir():
        raise DataError(folder, "figures folder not found")
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.png"))]


def read_flow_clips(table: Path, folder: Path, n: int) -> list[FlowClip]:
    """Load the arrays of ``n`` clips chosen from the flow table (:func:`choose_clips`)."""
    clips = []
    for _, row in choose_clips(pd.read_parquet(table), n).iterrows():
        path = folder / row["path"]
        try:
            with np.load(path) as arrays:
                data = {k: arrays[k] for k in ("u", "v", "strain", "onset", "apex")}
        except (OSError, KeyError, ValueError) as error:
            raise DataError(path, f"cannot read the flow arrays u, v, strain, onset, apex "
                                  f"({error})") from error
        clips.append(FlowClip(row["dataset"], row["subject"], row["clip"], row["label"],
                              int(row["onset_frame"]), int(row["apex_frame"]),
                              bool(row["apex_estimated"]), **data))
    return clips


def load_fold_model(model_dir: Path, fold: int) -> Any:
    """Build a trained entry's model from its config.yaml with fold ``fold``'s weights
    (``fold_XX.pt``).

    Raises:
        DataError: no config.yaml, or no such fold checkpoint.
    """
    import torch  # noqa: PLC0415 - only for attention maps

    from mer.models import create_model  # noqa: PLC0415 - registers the models

    config_path, weights = model_dir / "config.yaml", model_dir / f"fold_{fold:02d}.pt"
    params = _entry_params(model_dir)
    if not weights.is_file():
        raise DataError(weights, "fold checkpoint not found (run `mer train`)")
    model = create_model(params["name"], **(params.get("hparams") or {}))
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except RuntimeError as error:
        raise DataError(weights, f"does not fit the model of {config_path} ({error})") from error
    return model.eval()


def _entry_params(model_dir: Path) -> dict[str, Any]:
    """The ``params`` of a trained entry's config.yaml (``name``, ``hparams``, ...)."""
    config_path = model_dir / "config.yaml"
    if not config_path.is_file():
        raise DataError(model_dir, "no config.yaml: not a trained model entry (run `mer train`)")
    return yaml.safe_load(config_path.read_text(encoding="utf-8"))["params"]


def exposes_attention(model_dir: Path) -> bool:
    """Whether a trained entry's network exposes attention masks: it has ``attention_masks``
    and that gives at least one mask on a blank clip (``micro_attention`` with its units, not
    ``micro_attention_plain``)."""
    import torch  # noqa: PLC0415 - only for attention maps

    from mer.models import create_model  # noqa: PLC0415 - registers the models
    from mer.models.base import INPUT_CHANNELS, SEQUENCE_INPUTS  # noqa: PLC0415

    params = _entry_params(model_dir)
    model = create_model(params["name"], **(params.get("hparams") or {})).eval()
    masks = getattr(model, "attention_masks", None)
    if not callable(masks):
        return False
    size = model.input_size
    blank = {key: torch.zeros(1, INPUT_CHANNELS[key], *((2,) if key in SEQUENCE_INPUTS else ()),
                              size, size) for key in model.input_keys}
    with torch.no_grad():
        return len(masks(blank)) > 0


def attention_entries(models_dir: Path) -> list[Path]:
    """The trained entries (sub-folders with a config.yaml) of ``models_dir`` whose network
    exposes attention, by name."""
    if not models_dir.is_dir():
        raise DataError(models_dir, "models folder not found (run `mer train`)")
    return [entry for entry in sorted(models_dir.iterdir())
            if (entry / "config.yaml").is_file() and exposes_attention(entry)]


def read_attention_clips(model_dir: Path, flow_clips: Sequence[FlowClip],
                         predictions: pd.DataFrame) -> list[AttentionClip]:
    """Each clip's attention masks from the entry's fold checkpoint that held it out.

    Raises:
        DataError: the entry's network exposes no attention, or a clip has no prediction of it
            (so its fold is unknown), or the fold's checkpoint is missing.
    """
    from mer.evaluation.attention import attention_maps  # noqa: PLC0415 - imports torch

    entry = model_dir.name
    if not exposes_attention(model_dir):
        raise DataError(model_dir, f"the entry is a {_entry_params(model_dir)['name']!r} model "
                                   "without attention units: no attention maps")
    out = []
    for c in flow_clips:
        rows = predictions[(predictions["model"] == entry) & (predictions["dataset"] == c.dataset)
                           & (predictions["subject"] == c.subject)
                           & (predictions["clip"] == c.clip)]
        if rows.empty:
            raise DataError(model_dir, f"clip {c.dataset}/{c.subject}/{c.clip} has no prediction "
                                       f"of entry {entry!r}: its fold is unknown (train and "
                                       "evaluate the entry first)")
        fold = int(rows["fold"].iloc[0])
        masks = attention_maps(load_fold_model(model_dir, fold), c.apex,
                               np.stack([c.u, c.v, c.strain]))
        out.append(AttentionClip(c.dataset, c.subject, c.clip, c.label, fold, c.apex,
                                 tuple(masks)))
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the report's inputs and output."""
    parser = argparse.ArgumentParser(prog="mer report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON")
    parser.add_argument("--predictions", type=Path, required=True, help="pooled predictions")
    parser.add_argument("--quality", type=Path, required=True, help="gate reports folder")
    parser.add_argument("--figures", type=Path, required=True, help="PNG figures folder")
    parser.add_argument("--flow-table", type=Path, required=True, help="flow table (Parquet)")
    parser.add_argument("--flow-dir", type=Path, required=True, help="flow arrays folder")
    parser.add_argument("--out", type=Path, required=True, help="the HTML file")
    parser.add_argument("--comparisons", type=Path, default=None,
                        help="paired comparisons of model entries (JSON), shown at the top")
    parser.add_argument("--data-docs", type=Path, default=None,
                        help="the gates' Data Docs folder (mer validate --data-docs DIR/<gate>), "
                             "linked from each gate's row")
    parser.add_argument("--pretrain-metrics", type=Path, default=None,
                        help="the pretrain stage's metrics JSON (section shown if given)")
    parser.add_argument("--clips", type=int, default=3, help="clips whose flow is pictured")
    parser.add_argument("--attention-models-dir", type=Path, default=None,
                        help="trained entries (models/<set>); the maps of each whose network "
                             "exposes attention are shown")
    parser.add_argument("--attention-model", type=Path, action="append", default=[],
                        help="a trained entry with attention (models/<set>/<entry>) whose maps "
                             "are shown; repeatable")
    parser.add_argument("--attention-clips", type=int, default=2,
                        help="clips per class whose attention maps are shown")
    parser.add_argument("--check-lineage", action="store_true",
                        help="also compare the recorded hashes with the disk (not inside "
                             "`dvc repro`, which holds DVC's lock)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Read the evaluation's outputs and write the report."""
    args = parse_args(argv)
    lineage, note = None, ""
    try:
        lineage = audit_metrics(args.metrics, check=args.check_lineage)
    except DataError as error:
        note = f"no lineage: {error}"
        logger.warning("%s", note)
    predictions = pd.read_parquet(args.predictions)
    entries = list(args.attention_model)
    if args.attention_models_dir is not None:
        entries += [e for e in attention_entries(args.attention_models_dir) if e not in entries]
    attention = []
    if entries:
        chosen = read_flow_clips(args.flow_table, args.flow_dir, len(LABELS) * args.attention_clips)
        attention = [(entry.name, read_attention_clips(entry, chosen, predictions))
                     for entry in entries]
    inputs = ReportInputs(
        metrics=read_json(args.metrics),
        predictions=predictions,
        figures=read_figures(args.figures),
        quality=read_quality(args.quality),
        flow_clips=read_flow_clips(args.flow_table, args.flow_dir, args.clips),
        lineage=lineage, lineage_note=note,
        comparisons=(parse_comparisons(read_json(args.comparisons), args.comparisons.as_posix())
                     if args.comparisons else None),
        data_docs=(Path(os.path.relpath(args.data_docs, args.out.parent)).as_posix()
                   if args.data_docs else None),
        attention=attention,
        pretraining=read_json(args.pretrain_metrics) if args.pretrain_metrics else None,
        sources={"metrics": args.metrics.as_posix(), "predictions": args.predictions.as_posix(),
                 "quality gates": args.quality.as_posix(), "flow": args.flow_table.as_posix()},
    )
    write_text(args.out, build_report(inputs))
    logger.info("report -> %s", args.out)
    return 0
