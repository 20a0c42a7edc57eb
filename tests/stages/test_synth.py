"""Stage `synth`'s command line: the worker count it renders with."""

from __future__ import annotations

from mer.stages.synth import available_cpus, parse_args


def test_workers_default_to_the_cpus_the_stage_may_use() -> None:
    args = parse_args(["--out", "corpus"])
    assert args.workers == available_cpus() >= 1
    assert parse_args(["--out", "corpus", "--workers", "1"]).workers == 1
