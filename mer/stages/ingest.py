"""Stage `ingest`: read every configured corpus into the canonical clip table.

``mer ingest --params params.yaml --out data/interim/micro/clips.parquet`` reads
``data.corpora`` (and the MEGC2019 composite file when ``data.composite_gt`` is set); with
``--macro`` it reads ``data.macro_corpora`` instead. ``mer ingest --format F --root R
[--annotations A] --out P`` reads one corpus.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from mer.config import CorpusConfig, DataConfig, load_params
from mer.data.atomic import write_parquet
from mer.data.fingerprint import frame_fingerprints
from mer.data.incoming import read_merged
from mer.data.readers import (
    FORMATS,
    MACRO_FORMATS,
    ReaderPolicy,
    ReadResult,
    apply_composite,
    read_corpus,
)

logger = logging.getLogger(__name__)


def ingest(config: DataConfig) -> ReadResult:
    """Read the corpora of ``config``; keep the composite's clips and labels when it is set.

    Returns:
        The clip table, sorted by (dataset, subject, clip), and every dropped clip with its reason.
    """
    policy = ReaderPolicy(on_defect=config.on_defect)
    results = {corpus.format: _read(corpus, policy) for corpus in config.corpora}
    dropped = [item for result in results.values() for item in result.dropped]
    if config.composite_gt is not None:
        table = apply_composite(results, config.composite_gt, policy).table
    else:
        table = pa.concat_tables([result.table for result in results.values()])
    merged = read_merged(config.incoming, policy) if config.incoming is not None else None
    if merged is not None:  # new annotated clips, labelled from their sheets' emotions
        table, dropped = pa.concat_tables([table, merged.table]), dropped + merged.dropped
    order = [("dataset", "ascending"), ("subject", "ascending"), ("clip", "ascending")]
    return ReadResult(table.sort_by(order), dropped)


def _read(corpus: CorpusConfig, policy: ReaderPolicy) -> ReadResult:
    return read_corpus(corpus.format, corpus.root, corpus.annotations, policy)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse either ``--params`` or ``--format/--root/--annotations``, plus the outputs."""
    parser = argparse.ArgumentParser(prog="mer ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, help="params.yaml: read data.corpora")
    parser.add_argument("--macro", action="store_true",
                        help="with --params: read data.macro_corpora (no composite file)")
    parser.add_argument("--format", choices=FORMATS + MACRO_FORMATS,
                        help="read one corpus of this format")
    parser.add_argument("--root", type=Path, help="the corpus's frame folder")
    parser.add_argument("--annotations", type=Path, help="the corpus's coding sheet")
    parser.add_argument("--on-defect", choices=("drop", "fail", "estimate_apex"),
                        default="estimate_apex",
                        help="known defects of real sheets: drop and list, fail, or keep the "
                        "clip with its apex cleared (to be spotted)")
    parser.add_argument("--out", type=Path, required=True, help="clip table (Parquet)")
    parser.add_argument("--dropped", type=Path, help="table of dropped clips (Parquet)")
    parser.add_argument("--fingerprints", type=Path,
                        help="SHA-256 of each clip's frame files (Parquet), so DVC sees an "
                             "edited frame")
    args = parser.parse_args(argv)
    if (args.params is None) == (args.format is None):
        parser.error("give either --params or --format with --root")
    if args.format is not None and args.root is None:
        parser.error("--format needs --root")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Read, then write the clip table (and the dropped clips) atomically."""
    args = parse_args(argv)
    if args.params is not None:
        config = load_params(args.params).data
        if args.macro:
            config = DataConfig(corpora=config.macro_corpora, on_defect=config.on_defect)
    else:
        corpus = CorpusConfig(format=args.format, root=args.root, annotations=args.annotations)
        config = DataConfig(corpora=(corpus,), on_defect=args.on_defect)
    result = ingest(config)
    write_parquet(args.out, result.table)
    if args.dropped is not None:
        write_parquet(args.dropped, result.dropped_table())
    if args.fingerprints is not None:
        write_parquet(args.fingerprints, frame_fingerprints(result.table))
    logger.info("%d clips of %d subjects -> %s (%d dropped)", result.table.num_rows,
                len(set(zip(result.table["dataset"].to_pylist(),
                            result.table["subject"].to_pylist()))),
                args.out, len(result.dropped))
    return 0
