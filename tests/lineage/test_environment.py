"""What the lineage records of the machine: the CPU check and the CPU code paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from mer.lineage.environment import CPU_BASELINE, Environment, GitState, has_avx2


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu sse2 avx avx2 fma avx512f", True),
    ("fpu sse2 avx avx2 fma", True),
    ("fpu sse2 avx fma", False),  # no AVX2: nothing to hold to
    ("fpu sse2 avx avx2", False),  # no FMA
])
def test_has_avx2_reads_the_cpu_flags(tmp_path: Path, flags: str, expected: bool) -> None:
    assert has_avx2(_cpuinfo(tmp_path, flags)) is expected


def test_has_avx2_is_false_where_the_flags_cannot_be_read(tmp_path: Path) -> None:
    assert has_avx2(tmp_path / "missing") is False


def test_cpu_summary_names_the_variables_set_or_says_none_is() -> None:
    git = GitState(commit=None, dirty=False)
    held = Environment(git, "3.11", cpu_paths={"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": None})
    assert held.cpu_summary() == "ATEN_CPU_CAPABILITY=avx2"
    own = Environment(git, "3.11", cpu_paths=dict.fromkeys(CPU_BASELINE))
    assert own.cpu_summary().startswith("the CPU's own")
