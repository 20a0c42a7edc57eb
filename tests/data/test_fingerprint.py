"""Frame fingerprints: one SHA-256 per clip over its frames' bytes, naming an unreadable frame."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mer.data.errors import DataError
from mer.data.fingerprint import frame_fingerprints


def _clips(root: Path) -> pa.Table:
    for name, data in (("a/1.png", b"one"), ("a/2.png", b"two"), ("b/1.png", b"three")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return pa.Table.from_pylist([
        {"dataset": "casme2", "clip": "a", "root": str(root), "frames": ["a/1.png", "a/2.png"]},
        {"dataset": "casme2", "clip": "b", "root": str(root), "frames": ["b/1.png"]}])


def test_an_edited_frame_changes_only_its_clip(tmp_path: Path) -> None:
    clips = _clips(tmp_path)
    before = frame_fingerprints(clips).column("frames_sha256").to_pylist()
    assert len(set(before)) == 2
    (tmp_path / "a/2.png").write_bytes(b"TWO")
    after = frame_fingerprints(clips).column("frames_sha256").to_pylist()
    assert after[0] != before[0] and after[1] == before[1]


def test_a_missing_frame_is_named(tmp_path: Path) -> None:
    clips = _clips(tmp_path)
    (tmp_path / "b/1.png").unlink()
    with pytest.raises(DataError, match=r"b/1\.png.*cannot read the frame"):
        frame_fingerprints(clips)
