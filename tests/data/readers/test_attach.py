"""Tests of attach_frames and read_corpus: folders, containment, and bad calls."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from mer.data.errors import DataError
from mer.data.readers import FORMATS, attach_frames, read_corpus, samm

HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
          "Duration", "Micro", "Action Units", "Estimated Emotion"]


@pytest.fixture
def sheet(tmp_path: Path, write_xlsx) -> Path:
    return write_xlsx(tmp_path / "samm.xlsx", [
        HEADER, ["006", "006_1_2", 1, 10, 11, 12, 3, "Micro", "4", "Anger"]])


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*")}


def test_formats_lists_the_five_corpora() -> None:
    assert FORMATS == ("casme2", "samm", "smic", "casme3", "mmew")


def test_reading_never_modifies_the_root(tmp_path: Path, sheet: Path, make_clip) -> None:
    root = tmp_path / "SAMM"
    make_clip(root / "006" / "006_1_2", range(9, 14), pattern="006_{:05d}.jpg")
    before = _snapshot(root)
    assert read_corpus("samm", root, sheet).table["frame_numbers"][0].as_py() == [10, 11, 12]
    assert _snapshot(root) == before


def test_missing_clip_folder_names_the_clip(tmp_path: Path, sheet: Path) -> None:
    (tmp_path / "SAMM").mkdir()
    with pytest.raises(DataError, match=r"samm clip 006_1_2 .*clip folder not found"):
        read_corpus("samm", tmp_path / "SAMM", sheet)


def test_missing_onset_and_offset_frames_are_named(tmp_path: Path, sheet: Path,
                                                    make_clip) -> None:
    make_clip(tmp_path / "SAMM" / "006" / "006_1_2", [11], pattern="006_{:05d}.jpg")
    with pytest.raises(DataError, match=r"samm clip 006_1_2 .*frame file missing for onset 10, "
                                        r"offset 12"):
        read_corpus("samm", tmp_path / "SAMM", sheet)


def test_missing_root_is_rejected(tmp_path: Path, sheet: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: corpus root folder not found"):
        attach_frames(samm.read_annotations(sheet), tmp_path / "nowhere")


def test_symlinked_clip_folder_outside_the_root_is_rejected(tmp_path: Path, sheet: Path,
                                                            make_clip) -> None:
    make_clip(tmp_path / "elsewhere", [10, 11, 12], pattern="006_{:05d}.jpg")
    (tmp_path / "SAMM" / "006").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", tmp_path / "SAMM" / "006" / "006_1_2")
    with pytest.raises(DataError, match=r"samm clip 006_1_2 .*resolves outside the corpus root"):
        read_corpus("samm", tmp_path / "SAMM", sheet)


def test_symlinked_frame_outside_the_root_is_rejected(tmp_path: Path, sheet: Path,
                                                      make_clip) -> None:
    outside, = make_clip(tmp_path / "elsewhere", [11], pattern="006_{:05d}.jpg")
    make_clip(tmp_path / "SAMM" / "006" / "006_1_2", [10, 12], pattern="006_{:05d}.jpg")
    os.symlink(outside, tmp_path / "SAMM" / "006" / "006_1_2" / "006_00011.jpg")
    with pytest.raises(DataError, match=r"006_00011\.jpg resolves outside the corpus root"):
        read_corpus("samm", tmp_path / "SAMM", sheet)


def test_symlink_inside_the_root_is_accepted(tmp_path: Path, sheet: Path, make_clip) -> None:
    make_clip(tmp_path / "SAMM" / "store", [10, 11, 12], pattern="006_{:05d}.jpg")
    (tmp_path / "SAMM" / "006").mkdir()
    os.symlink(tmp_path / "SAMM" / "store", tmp_path / "SAMM" / "006" / "006_1_2")
    row, = read_corpus("samm", tmp_path / "SAMM", sheet).table.to_pylist()
    assert row["frames"][0] == "006/006_1_2/006_00010.jpg"


def test_unknown_format_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"casme9: unknown corpus format"):
        read_corpus("casme9", tmp_path, tmp_path / "s.xlsx")


def test_sheet_formats_need_their_sheet(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"the samm reader needs its annotation sheet"):
        read_corpus("samm", tmp_path)


def test_corpus_whose_clips_are_all_defects_is_empty(tmp_path: Path, write_xlsx) -> None:
    path = write_xlsx(tmp_path / "samm.xlsx", [
        HEADER, ["006", "006_1_2", 1, 10, 13, 12, 3, "Micro", "4", "Anger"]])
    (tmp_path / "SAMM").mkdir()
    with pytest.raises(DataError, match=r"samm\.xlsx: no samm clip left after dropping"):
        read_corpus("samm", tmp_path / "SAMM", path)


def test_table_with_a_climbing_clip_name_is_rejected(tmp_path: Path, sheet: Path) -> None:
    table = samm.read_annotations(sheet)
    table = table.set_column(table.schema.get_field_index("clip"), "clip",
                             pa.array(["../../etc"]))
    (tmp_path / "SAMM").mkdir()
    with pytest.raises(DataError, match=r"samm clip \.\./\.\./etc .*would leave the corpus root"):
        attach_frames(table, tmp_path / "SAMM")
