"""Stage `evaluate_robustness`: the default models under the paper's robustness conditions.

``mer robustness --clean-metrics reports/metrics.json --predictions-dir
data/processed/predictions/robustness --models-dir models/robustness --metrics
reports/robustness/metrics.json --table reports/robustness/table.md`` scores each params.yaml
``robustness`` condition (label noise, few shots; trained by the `train_robustness` stages in
``<dir>/<condition>/<model>``) exactly as `evaluate` scores the clean run, and writes the
metrics per condition and model beside a Markdown table of each model's change from clean.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from mer.config import load_params
from mer.data.atomic import write_text
from mer.data.errors import DataError
from mer.evaluation.results import (
    check_predictions,
    read_model_predictions,
    robustness_table,
    summarise,
    write_metrics,
)

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the clean metrics, the per-condition predictions and the outputs."""
    parser = argparse.ArgumentParser(prog="mer robustness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean-metrics", type=Path, required=True,
                        help="metrics of the unperturbed run (stage evaluate)")
    parser.add_argument("--predictions-dir", type=Path, required=True,
                        help="folder of <condition>/<model>.parquet predictions")
    parser.add_argument("--models-dir", type=Path, required=True,
                        help="folder of <condition>/<model>/config.yaml (folds)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON per condition")
    parser.add_argument("--table", type=Path, required=True, help="Markdown table")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Check and score every (condition, default model) pair; write metrics and the table."""
    args = parse_args(argv)
    params = load_params(args.params)
    if not params.robustness:
        raise DataError(args.params, "no `robustness` conditions to evaluate")
    clean = json.loads(args.clean_metrics.read_text(encoding="utf-8"))
    missing = [model for model in params.models if model not in clean]
    if missing:
        raise DataError(args.clean_metrics, f"no clean metrics for models {missing}")
    metrics = {"clean": {model: clean[model] for model in params.models}}
    for condition in params.robustness:
        predictions, folds = read_model_predictions([args.predictions_dir / condition],
                                                    [args.models_dir / condition],
                                                    list(params.models))
        check_predictions(predictions, folds)
        metrics[condition] = summarise(predictions, n_resamples=params.evaluate.n_resamples,
                                       seed=params.evaluate.seed)
    write_metrics(args.metrics, metrics)
    table = robustness_table(metrics)
    write_text(args.table, table)
    logger.info("robustness -> %s\n%s", args.table, table)
    return 0
