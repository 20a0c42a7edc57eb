"""Atomic writes under a full disk or a read-only folder: the path is named, nothing is lost."""

from __future__ import annotations

import errno
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest

from mer.data.atomic import write_atomic, write_parquet, write_text

#: A child that may write at most 4 KiB per file (a full disk, as the kernel reports it).
FULL_DISK = """
import resource, signal, sys
import numpy as np, pyarrow as pa
from mer.data.atomic import write_parquet
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of dying
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
table = pa.table({"x": np.random.default_rng(0).random(100_000)})
try:
    write_parquet(sys.argv[1], table)
except OSError as error:
    print(error)
    sys.exit(2)
"""


def test_a_write_that_fails_midway_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = write_text(tmp_path / "metrics.json", "old\n")

    def half_then_full(tmp: Path) -> None:
        tmp.write_text("new, half writ")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"metrics.json: not written, left as it was \(No space") \
            as error:
        write_atomic(path, half_then_full)
    assert error.value.errno == errno.ENOSPC
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


def test_a_read_only_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # root ignores chmod, so refuse here
    with pytest.raises(OSError, match=r"out/table.parquet: cannot write here \(Permission"):
        write_parquet(tmp_path / "out/table.parquet", pa.table({"x": [1]}))
    assert not (tmp_path / "out/table.parquet").exists()


def test_a_full_disk_in_a_real_process_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "predictions.parquet"
    path.write_bytes(b"the previous run's file")
    child = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True,
                           text=True, check=False)
    assert child.returncode == 2, child.stderr
    assert f"{path}: not written, left as it was" in child.stdout
    assert path.read_bytes() == b"the previous run's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.parquet"]
