"""`mer dev`: the development project, where hyper-parameters are chosen.

``mer dev --out dev --seed 1`` makes (or refreshes) ``dev/``: a DVC project with this project's
dvc.yaml, its params.yaml with only ``synth.seed`` replaced, and links to the code. Run there
(``mer run --root dev ...``; ``make dev``), the same pipeline generates a development corpus
from other random draws (other identities, clips, motion and noise, as many subjects) and
scores every setting of params.yaml on it. Settings are chosen on these numbers, never on the
numbers of the evaluated corpus (``synth.seed`` of params.yaml), which are the ones reported.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from mer.config import load_params
from mer.data.atomic import write_text

logger = logging.getLogger(__name__)

#: What the development project shares with this one (the code, linked, never copied).
LINKED = ("mer", "flows")


def make_dev_project(project: Path, out: Path, seed: int) -> Path:
    """Make ``out`` a DVC project running ``project``'s pipeline on the corpus of ``seed``.

    Args:
        project: this project's root (dvc.yaml, params.yaml, .dvcignore, the code).
        out: the development project's folder (created; its data and DVC cache are kept).
        seed: ``synth.seed`` of the development corpus.

    Raises:
        ValueError: ``seed`` is the evaluated corpus's own seed.
    """
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    evaluated = load_params(project / "params.yaml").synth.seed
    if seed == evaluated:
        raise ValueError(f"the development corpus needs a seed other than synth.seed "
                         f"({evaluated}), whose numbers are the ones reported")
    params["synth"]["seed"] = seed
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project / "dvc.yaml", out / "dvc.yaml")
    shutil.copyfile(project / ".dvcignore", out / ".dvcignore")
    write_text(out / "params.yaml", yaml.safe_dump(params, sort_keys=False))
    for name in LINKED:
        link = out / name
        if not link.is_symlink():
            link.symlink_to((project / name).resolve())
    if not (out / ".dvc").is_dir():
        subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=out,
                       check=True)
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the development project's folder and corpus seed."""
    parser = argparse.ArgumentParser(prog="mer dev", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("dev"), help="development project")
    parser.add_argument("--seed", type=int, default=1, help="synth.seed of the development corpus")
    parser.add_argument("--project", type=Path, default=Path("."), help="this project's root")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Make or refresh the development project."""
    args = parse_args(argv)
    out = make_dev_project(args.project, args.out, args.seed)
    logger.info("development project (synth.seed %d) in %s: run `mer run --root %s`",
                args.seed, out, out)
    return 0
