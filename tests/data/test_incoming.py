"""Batch file work of mer.data.incoming: quarantine whole with the reason, compare trees."""

from __future__ import annotations

import json
from pathlib import Path

from mer.data.incoming import quarantine, same_tree


def _batch(folder: Path, content: bytes = b"frame") -> Path:
    (folder / "frames").mkdir(parents=True)
    (folder / "frames" / "img1.jpg").write_bytes(content)
    (folder / "batch.yaml").write_text("format: casme2\n")
    return folder


def test_quarantine_moves_the_batch_whole_and_writes_the_reason(tmp_path: Path) -> None:
    batch = _batch(tmp_path / "incoming" / "lab-1")
    target = quarantine(batch, tmp_path / "quarantine", "sheet.xlsx row 2: onset after offset")
    assert target == tmp_path / "quarantine" / "lab-1" and not batch.exists()
    assert (target / "frames" / "img1.jpg").read_bytes() == b"frame"
    reason = json.loads((tmp_path / "quarantine" / "lab-1.reason.json").read_text())
    assert reason == {"batch": "lab-1", "reason": "sheet.xlsx row 2: onset after offset"}


def test_a_second_quarantine_of_a_name_keeps_the_first(tmp_path: Path) -> None:
    first = quarantine(_batch(tmp_path / "a" / "lab-1"), tmp_path / "quarantine", "first")
    second = quarantine(_batch(tmp_path / "b" / "lab-1", b"other"), tmp_path / "quarantine", "2nd")
    assert second != first and second.name.startswith("lab-1-")
    assert (first / "frames" / "img1.jpg").read_bytes() == b"frame"
    assert json.loads(second.with_name(second.name + ".reason.json").read_text())["reason"] == "2nd"


def test_same_tree_compares_paths_and_bytes(tmp_path: Path) -> None:
    a, b = _batch(tmp_path / "a"), _batch(tmp_path / "b")
    assert same_tree(a, b)
    (b / "frames" / "img1.jpg").write_bytes(b"frams")  # same size, other bytes
    assert not same_tree(a, b)
    (b / "frames" / "img1.jpg").write_bytes(b"frame")
    (b / "extra.txt").write_text("x")
    assert not same_tree(a, b)
