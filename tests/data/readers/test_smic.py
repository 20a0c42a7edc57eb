"""Tests of the SMIC-HS reader: the folder tree is the annotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mer.data.errors import DataError
from mer.data.readers import attach_frames, read_corpus, smic, smic_annotations


@pytest.fixture
def hs_root(tmp_path: Path, make_clip) -> Path:
    """An SMIC-HS-like tree: two subjects, real-style names, a non_micro folder to skip."""
    root = tmp_path / "HS"
    make_clip(root / "s1" / "micro" / "negative" / "s1_ne_01", [35669, 35670, 35671],
              pattern="image{:06d}.bmp")
    make_clip(root / "s1" / "micro" / "surprise" / "s1_sur_01", [99, 100], pattern="image{}.bmp")
    make_clip(root / "s11" / "micro" / "positive" / "s11_po_02", [9, 10], pattern="image{}.bmp")
    make_clip(root / "s1" / "non_micro" / "s1_x_01", [1], pattern="image{}.bmp")
    (root / "README.txt").write_text("not a subject")
    return root


def test_tree_gives_clips_with_first_and_last_frame(hs_root: Path) -> None:
    rows = smic.read_annotations(hs_root).to_pylist()
    assert [(r["subject"], r["clip"], r["emotion"]) for r in rows] == [
        ("s1", "s1_ne_01", "negative"), ("s1", "s1_sur_01", "surprise"),
        ("s11", "s11_po_02", "positive")]
    assert [(r["onset"], r["apex"], r["offset"]) for r in rows] == [
        (35669, None, 35671), (99, None, 100), (9, None, 10)]
    assert {r["fps"] for r in rows} == {100.0} and {r["source_row"] for r in rows} == {None}


def test_read_corpus_without_a_sheet_reads_the_tree(hs_root: Path) -> None:
    result = read_corpus("smic", hs_root)
    first = result.table.to_pylist()[0]
    assert first["frames"] == [f"s1/micro/negative/s1_ne_01/image0{n}.bmp"
                               for n in (35669, 35670, 35671)]
    assert first["label"] == "negative" and result.dropped == []


def test_composite_spelling_maps_onto_the_disk() -> None:
    assert smic.subject_folder("s01") == "s1" and smic.subject_folder("s11") == "s11"
    assert smic.clip_folder_name("s01_ne_01") == "s1_ne_01"
    with pytest.raises(DataError, match="is not an SMIC subject"):
        smic.subject_folder("x01")


def test_clips_from_the_composite_file_get_their_range_from_the_folders(
        tmp_path: Path, hs_root: Path) -> None:
    gt = tmp_path / "gt.csv"
    gt.write_text("smic,s01,s01_ne_01,0\nsmic,s11,s11_po_02,1\n")
    table = smic_annotations(gt)
    assert table["onset"].to_pylist() == [0, 0]
    rows = attach_frames(table, hs_root).to_pylist()
    assert [(r["onset"], r["offset"], len(r["frames"])) for r in rows] == [
        (35669, 35671, 3), (9, 10, 2)]


def test_unknown_emotion_folder_is_rejected(hs_root: Path) -> None:
    (hs_root / "s1" / "micro" / "angry" / "s1_an_01").mkdir(parents=True)
    with pytest.raises(DataError, match=r"angry: unknown emotion folder"):
        smic.read_annotations(hs_root)


def test_clip_folder_without_frames_is_rejected(hs_root: Path) -> None:
    (hs_root / "s1" / "micro" / "negative" / "s1_ne_02").mkdir()
    with pytest.raises(DataError, match=r"s1_ne_02: SMIC clip folder holds no frames"):
        smic.read_annotations(hs_root)


def test_tree_without_clips_is_an_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "HS" / "s1" / "micro").mkdir(parents=True)
    with pytest.raises(DataError, match=r"HS: no clip rows found: empty smic corpus"):
        smic.read_annotations(tmp_path / "HS")


def test_a_sheet_given_for_smic_is_refused_with_advice(tmp_path: Path, hs_root: Path) -> None:
    (tmp_path / "smic.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match=r"smic\.xlsx: SMIC has no annotation sheet"):
        read_corpus("smic", hs_root, tmp_path / "smic.xlsx")
