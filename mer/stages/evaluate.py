"""Stage `evaluate`: score the pooled leave-one-subject-out predictions as MEGC2019.

``mer evaluate --predictions-dir data/processed/predictions --metrics reports/metrics.json
--predictions reports/predictions.parquet --figures reports/figures --plots reports/plots``
checks that every clip was predicted exactly once per model, by the fold that held its subject
out, then writes UF1/UAR/accuracy with bootstrap intervals per model and dataset, the pooled
predictions, PNG figures and DVC plot data.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from mer.config import load_params
from mer.evaluation.plots import write_figures, write_plot_data
from mer.evaluation.results import (
    check_predictions,
    read_model_predictions,
    summarise,
    summary_table,
    write_metrics,
    write_predictions,
)

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the inputs (per-model predictions and configs) and the report outputs."""
    parser = argparse.ArgumentParser(prog="mer evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictions-dir", type=Path, required=True, action="append",
                        help="folder of <model>.parquet predictions (repeatable)")
    parser.add_argument("--models-dir", type=Path, required=True, action="append",
                        help="folder of <model>/config.yaml (folds) (repeatable)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON")
    parser.add_argument("--predictions", type=Path, required=True, help="pooled predictions")
    parser.add_argument("--figures", type=Path, required=True, help="PNG figures folder")
    parser.add_argument("--plots", type=Path, required=True, help="DVC plot data folder")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    parser.add_argument("--with-ablations", action="store_true",
                        help="score the `ablations` entries too (their files beside the models')")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Check, score and report every model entry of params.yaml."""
    args = parse_args(argv)
    params = load_params(args.params)
    entries = list(params.models) + (list(params.ablations) if args.with_ablations else [])
    predictions, folds = read_model_predictions(args.predictions_dir, args.models_dir, entries)
    check_predictions(predictions, folds)
    metrics = summarise(predictions, n_resamples=params.evaluate.n_resamples,
                        seed=params.evaluate.seed)
    write_metrics(args.metrics, metrics)
    write_predictions(args.predictions, predictions)
    write_figures(predictions, args.figures)
    write_plot_data(predictions, args.plots)
    logger.info("metrics -> %s\n%s", args.metrics, summary_table(metrics))
    return 0
