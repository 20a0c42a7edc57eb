"""The `mer` command line's process set-up: the offline defaults and the CPU baseline."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mer import cli
from mer.lineage.environment import CPU_BASELINE, has_avx2

#: The module (``mer.lineage.environment`` as an attribute is the function of that name).
ENVIRONMENT_MODULE = sys.modules["mer.lineage.environment"]


def _clear_cpu_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the CPU variables for one test; monkeypatch puts back what was there."""
    for key in CPU_BASELINE:
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


def test_set_environment_holds_an_avx2_cpu_to_the_baseline_and_keeps_what_the_user_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_cpu_paths(monkeypatch)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    monkeypatch.setattr(ENVIRONMENT_MODULE, "has_avx2", lambda: True)
    cli.set_environment()

    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx512"
    for key, value in CPU_BASELINE.items():
        if key != "ATEN_CPU_CAPABILITY":
            assert os.environ[key] == value


def test_set_environment_sets_no_baseline_without_avx2(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_cpu_paths(monkeypatch)
    monkeypatch.setattr(ENVIRONMENT_MODULE, "has_avx2", lambda: False)
    cli.set_environment()

    assert not set(CPU_BASELINE) & set(os.environ)


@pytest.mark.skipif(not has_avx2(), reason="needs an x86-64 CPU with AVX2 and FMA")
def test_a_mer_process_runs_torch_and_numpy_on_the_avx2_paths() -> None:
    """Set before the imports, the baseline holds torch to AVX2 and numpy below x86-64-v4 even on
    a CPU with AVX-512 (where the process would otherwise pick those paths)."""
    code = ("import os\n"
            "for key in ('NPY_DISABLE_CPU_FEATURES', 'OPENBLAS_CORETYPE', 'ATEN_CPU_CAPABILITY',"
            " 'ONEDNN_MAX_CPU_ISA', 'MKL_CBWR'):\n"
            "    os.environ.pop(key, None)\n"
            "from mer import cli\n"
            "cli.set_environment()\n"
            "import numpy, torch\n"
            "from numpy.lib import introspect\n"
            "print(torch.backends.cpu.get_cpu_capability())\n"
            "info = introspect.opt_func_info(func_name='^cos$', signature='float64')\n"
            "print(info['cos']['dd']['current'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "AVX2"
    assert out[1] != "X86_V4"  # X86_V3 where the CPU has it
