"""Stage `synth`: generate the embedded default corpus (``mer synth --out DIR --seed N``)."""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from mer.config import SynthParams, load_params

logger = logging.getLogger(__name__)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS has one, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``--out``, ``--overwrite``, ``--seed``, ``--params`` and ``--workers``."""
    parser = argparse.ArgumentParser(
        prog="mer synth",
        description="Generate, offline and deterministically, a micro-expression corpus in the "
        "native layouts of CASME II, SAMM and SMIC-HS (plus a MEGC2019-style composite file) "
        "and a CK+-style macro-expression corpus, from face photographs shipped in packages.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a corpus already in --out (otherwise that is an error)")
    parser.add_argument("--seed", type=int, help="random seed (same seed, same bytes); "
                        "default: synth.seed of --params, else 0")
    parser.add_argument("--params", type=Path,
                        help="params.yaml: take synth.seed and the synth.config overrides")
    parser.add_argument("--workers", type=int, default=available_cpus(),
                        help="processes rendering subjects side by side (the bytes do not depend "
                        "on it); default: the CPUs this process may use, as the stage runs alone")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the corpus into ``--out``; log the counts and the time taken."""
    args = parse_args(argv)
    from mer.synth import SynthConfig, generate  # noqa: PLC0415 - heavy imports

    settings = load_params(args.params).synth if args.params else SynthParams()
    seed = settings.seed if args.seed is None else args.seed
    try:
        config = SynthConfig(**settings.config)
    except TypeError as error:
        raise ValueError(f"params synth.config: {error}") from error
    started = time.perf_counter()
    summary = generate(args.out, seed, config, overwrite=args.overwrite, progress=True,
                       workers=args.workers)
    logger.info("synthetic corpus in %s: %s (%.1f s)", args.out, summary,
                time.perf_counter() - started)
    return 0
