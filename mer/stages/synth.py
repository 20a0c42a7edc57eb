"""Stage `synth`: generate the embedded default corpus (``mer synth --out DIR --seed N``)."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``--out`` and ``--seed``."""
    parser = argparse.ArgumentParser(
        prog="mer synth",
        description="Generate, offline and deterministically, a micro-expression corpus in the "
        "native layouts of CASME II, SAMM and SMIC-HS (plus a MEGC2019-style composite file) "
        "and a CK+-style macro-expression corpus, from face photographs shipped in packages.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a corpus already in --out (otherwise that is an error)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the corpus into ``--out``; log the counts and the time taken."""
    args = parse_args(argv)
    from mer.synth import generate  # noqa: PLC0415 - heavy imports only when the stage runs

    started = time.perf_counter()
    summary = generate(args.out, args.seed, overwrite=args.overwrite, progress=True)
    logger.info("synthetic corpus in %s: %s (%.1f s)", args.out, summary,
                time.perf_counter() - started)
    return 0
