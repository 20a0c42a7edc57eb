"""Stage `au_text`: every clip's action units in words (FACS) and their sentence embedding.

``mer au-text --clips data/interim/micro/clips.parquet --out data/processed/au_text.parquet``
writes one row per clip (:func:`mer.facs.embeddings.au_text_schema`: the AUs, their description
and its embedding, also for the mirrored face). The text model runs here, once, so that training
never loads it. An unparsable AU code fails with the clip
and the term named; an encoder that cannot be loaded fails (nothing else is substituted).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from mer.data.atomic import write_parquet
from mer.facs.embeddings import au_text_table, describe_clips
from mer.facs.text import DEFAULT_ENCODER, KNOWN_ENCODERS, load_encoder

logger = logging.getLogger(__name__)

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the clip table, the output and the encoder."""
    parser = argparse.ArgumentParser(prog="mer au-text", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, required=True, help="clip table (Parquet)")
    parser.add_argument("--out", type=Path, required=True, help="au_text table (Parquet)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, choices=sorted(KNOWN_ENCODERS),
                        help="sentence encoder (its weights ship in a package)")
    parser.add_argument("--device", default="cpu", help="torch device of the encoder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Describe and embed the action units of every clip; write the table."""
    args = parse_args(argv)
    clips = pq.read_table(args.clips)
    describe_clips(clips, source=str(args.clips))  # a bad code fails before the model loads
    encoder = load_encoder(args.encoder, device=args.device)
    table = au_text_table(clips, encoder, source=str(args.clips))
    write_parquet(args.out, table)
    described = table.num_rows - table.column("description").null_count
    logger.info("au_text: %d clips (%d with coded AUs) embedded by %s -> %s", table.num_rows,
                described, encoder.name, args.out)
    return 0
