"""The `mer` command line: one sub-command per stage or flow, each with its own ``--help``.

This is the top floor: it sets up logging, dispatches to a stage's or a flow's ``main(argv)``
and turns expected errors (bad data, bad params, unwritable paths) into one line and exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from collections.abc import Sequence

from mer.lineage.environment import hold_cpu_paths  # stdlib only: numpy is not imported yet

#: command -> (module with ``main(argv) -> int``, or ``module:function``; one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("mer.stages.synth", "generate the embedded default corpus (offline, deterministic)"),
    "ingest": ("mer.stages.ingest", "read corpora in their native layouts into the clip table"),
    "validate": ("mer.stages.validate", "run a data-quality gate and write its report"),
    "faces": ("flows.faces", "crop and align the faces of every clip (chunks as "
              "Prefect tasks)"),
    "flow": ("flows.optical_flow", "TV-L1 optical flow onset -> apex and strain for every "
             "clip (chunks as Prefect tasks)"),
    "au-text": ("mer.stages.au_text", "describe each clip's action units (FACS) and embed the "
                "text once"),
    "pretrain": ("mer.stages.pretrain", "MA2MI: pretrain MIACNet's encoders on macro-expression "
                 "clips"),
    "train": ("flows.train", "train one model leave-one-subject-out (folds as Prefect tasks)"),
    "evaluate": ("mer.stages.evaluate", "score pooled LOSO predictions as MEGC2019 (UF1, UAR)"),
    "compare": ("mer.stages.compare", "paired differences (UF1, UAR) of entries, with intervals "
                "from a bootstrap over subjects"),
    "robustness": ("mer.stages.robustness", "score the default models under label noise and "
                   "few shots against the clean run"),
    "report": ("mer.stages.report", "write the self-contained HTML report (results, flow, gates, "
               "lineage)"),
    "audit": ("mer.stages.audit", "trace every metric to its stage, inputs, params, commit and "
              "run; verify hashes"),
    "export": ("mer.stages.export", "write the preprocessed inputs for other codebases (face "
               "crops, flow arrays, STSTNet, HTNet)"),
    "predict": ("mer.stages.predict", "predict the emotion of a clip folder or a video with a "
                "trained model"),
    "spot": ("mer.stages.spot", "find micro-expression intervals (onset, apex, offset) in a video"),
    "retrain": ("flows.retrain", "merge new annotated batches, retrain, promote if not worse"),
    "schedule": ("flows.retrain:serve", "serve the retraining deployment on its cron "
                 "(params.yaml)"),
    "dev": ("mer.stages.dev", "make the development project: the pipeline on a corpus of another "
            "seed, where settings are chosen"),
    "run": ("flows.run", "run the whole pipeline as the Prefect flow `mer-pipeline`"),
}


#: Offline and self-contained unless the user set otherwise.
ENVIRONMENT_DEFAULTS: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "mer",
}


def set_environment() -> None:
    """Fill in the offline defaults and the CPU code paths
    (:func:`mer.lineage.environment.hold_cpu_paths`; a variable the user set is kept); keep
    Prefect's home in the working directory's .prefect."""
    for key, value in ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    hold_cpu_paths()
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {about}" for name, (_, about) in COMMANDS.items()]
    return "usage: mer COMMAND [ARGS]   (mer COMMAND --help for each)\n\ncommands:\n" + "\n".join(
        lines
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mer COMMAND ARGS``; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"mer: unknown command '{command}'\n\n{_usage()}", file=sys.stderr)
        return 2
    set_environment()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "matplotlib", "PIL", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from mer.config import ConfigError  # noqa: PLC0415
    from mer.data.errors import DataError  # noqa: PLC0415

    module_name, _, function = COMMANDS[command][0].partition(":")
    entry = getattr(importlib.import_module(module_name), function or "main")
    try:
        return int(entry(rest) or 0)
    except (DataError, ConfigError, OSError, ValueError) as error:
        print(f"mer {command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
