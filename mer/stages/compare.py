"""Stages `compare` and `compare_experiments`, and `mer compare A B`: paired differences.

``mer compare --predictions reports/predictions.parquet --json reports/comparisons.json
--table reports/comparisons.md [--with-ablations]`` compares every default model with the named
baseline (``evaluate.baseline``) and, with ``--with-ablations``, every ablation's base with the
ablation: the difference in UF1 and UAR (seed means) with a 95% interval from a paired
bootstrap over subjects (:mod:`mer.evaluation.paired`). ``mer compare A B --predictions P``
prints the comparison of two entries.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mer.config import Params, load_params
from mer.data.atomic import write_text
from mer.evaluation.paired import (
    SEED_COLUMN,
    Pair,
    compare_entries,
    comparison_pairs,
    comparisons_markdown,
)

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse two entries to compare, or the outputs of the whole comparison table."""
    parser = argparse.ArgumentParser(prog="mer compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="*", metavar="ENTRY",
                        help="two entries A B: print A - B (default: every comparison)")
    parser.add_argument("--predictions", type=Path, default=Path("reports/predictions.parquet"),
                        help="pooled predictions of the entries (stage evaluate)")
    parser.add_argument("--json", type=Path, help="write every comparison as JSON")
    parser.add_argument("--table", type=Path, help="write every comparison as Markdown")
    parser.add_argument("--with-ablations", action="store_true",
                        help="also compare each ablation with its base")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    args = parser.parse_args(argv)
    if len(args.entries) not in (0, 2):
        parser.error(f"give two entries A B, or none; got {args.entries}")
    return args


def comparisons(params: Params, predictions: pd.DataFrame, pairs: Sequence[Pair]) -> dict:
    """The comparisons document: baseline, seeds, resamples and one row per pair."""
    seeds = sorted({int(s) for s in predictions[SEED_COLUMN]}) if SEED_COLUMN in predictions \
        else [0]
    rows = compare_entries(predictions, pairs, n_resamples=params.evaluate.n_resamples,
                           seed=params.evaluate.seed)
    return {"baseline": params.evaluate.baseline, "seeds": seeds,
            "n_resamples": params.evaluate.n_resamples, "rows": rows}


def main(argv: Sequence[str] | None = None) -> int:
    """Compare two entries, or write every comparison of params.yaml."""
    args = parse_args(argv)
    params = load_params(args.params)
    predictions = pd.read_parquet(args.predictions)
    if args.entries:
        pairs = [Pair(args.entries[0], args.entries[1], "asked")]
    else:
        if params.evaluate.baseline not in params.models:
            raise ValueError(f"{args.params}: evaluate.baseline {params.evaluate.baseline!r} is "
                             f"not an entry of models ({sorted(params.models)})")
        ablations = ({name: a.base for name, a in params.ablations.items()}
                     if args.with_ablations else {})
        pairs = comparison_pairs(list(params.models), ablations, params.evaluate.baseline)
    document = comparisons(params, predictions, pairs)
    table = comparisons_markdown(document["rows"])
    if args.json is not None:
        write_text(args.json, json.dumps(document, sort_keys=True, indent=2) + "\n")
    if args.table is not None:
        write_text(args.table, table)
    if args.entries:
        print(table, end="")  # noqa: T201 - the command's answer
    else:
        logger.info("paired comparisons (A - B, %d bootstrap resamples over subjects)\n%s",
                    params.evaluate.n_resamples, table)
    return 0
