"""Tests of the CK+ reader: the folder tree (images, Emotion, FACS) is the annotation."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from mer.data.errors import DataError
from mer.data.readers import (FORMATS, MACRO_FORMATS, attach_frames, ckplus, clip_folder,
                              parse_annotations, read_corpus, samm)
from mer.data.schema import CLIP_SCHEMA

PNG = "{}_{:08d}.png"


def _code(value: float) -> str:
    """A CK+ number as the real files write it: leading spaces, 7-digit exponent form."""
    return f"   {value:.7e}"


def _sequence(make_clip, root: Path, subject: str, sequence: str, numbers) -> list[Path]:
    prefix = f"{subject}_{sequence}"
    return make_clip(root / "cohn-kanade-images" / subject / sequence, numbers,
                     pattern=f"{prefix}_{{:08d}}.png", mode="L")


def _label(root: Path, folder: str, subject: str, sequence: str, frame: int, suffix: str,
           text: str) -> Path:
    path = root / folder / subject / sequence / f"{subject}_{sequence}_{frame:08d}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def ck_root(tmp_path: Path, make_clip) -> Path:
    """A CK+-like tree with the real quirks.

    S005/001: disgust (code 3) with FACS; S005/002: unlabelled, with an empty Emotion folder as
    in the real release; S010/006: happy, no FACS; S022/001: frame numbers without zero padding
    (frame 10 sorts after 9) written in reverse order, unlabelled. Stray files everywhere.
    """
    root = tmp_path / "CK+"
    _sequence(make_clip, root, "S005", "001", range(1, 12))
    _sequence(make_clip, root, "S005", "002", range(1, 5))
    _sequence(make_clip, root, "S010", "006", range(1, 15))
    make_clip(root / "cohn-kanade-images" / "S022" / "001", range(12, 0, -1),
              pattern="S022_001_{}.png", mode="L")
    _label(root, "Emotion", "S005", "001", 11, "_emotion.txt", _code(3) + "\n")
    (root / "Emotion" / "S005" / "002").mkdir(parents=True)
    _label(root, "Emotion", "S010", "006", 14, "_emotion.txt", _code(5))
    _label(root, "FACS", "S005", "001", 11, "_facs.txt",
           "".join(f"{_code(au)}{_code(level)}\n" for au, level in ((9, 4), (15, 0), (17, 2))))
    for stray in ("cohn-kanade-images/.DS_Store", "cohn-kanade-images/S005/001/Thumbs.db",
                  "cohn-kanade-images/S005/001/notes.txt", "Emotion/S005/001/.DS_Store",
                  "Landmarks/S005/001/S005_001_00000001_landmarks.txt", "ReadMeAgreement.txt"):
        (root / stray).parent.mkdir(parents=True, exist_ok=True)
        (root / stray).write_text("not a frame")
    return root


def _raises(match: str, root: Path) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        read_corpus("ckplus", root)
    assert "\n" not in str(info.value)
    return info.value


def test_tree_gives_one_clip_per_sequence(ck_root: Path) -> None:
    rows = ckplus.read_annotations(ck_root).to_pylist()
    assert [(r["subject"], r["clip"], r["onset"], r["apex"], r["offset"]) for r in rows] == [
        ("S005", "S005_001", 1, 11, 11), ("S005", "S005_002", 1, 4, 4),
        ("S010", "S010_006", 1, 14, 14), ("S022", "S022_001", 1, 12, 12)]
    assert [(r["emotion"], r["label"], r["action_units"]) for r in rows] == [
        ("disgust", "negative", "9+15+17"), ("unlabelled", None, None),
        ("happy", "positive", None), ("unlabelled", None, None)]
    images = ck_root / "cohn-kanade-images"
    assert [r["source_file"] for r in rows] == [
        str(ck_root / "Emotion" / "S005" / "001" / "S005_001_00000011_emotion.txt"),
        str(images / "S005" / "002"),
        str(ck_root / "Emotion" / "S010" / "006" / "S010_006_00000014_emotion.txt"),
        str(images / "S022" / "001")]
    assert {(r["dataset"], r["fps"], r["source_row"], r["root"]) for r in rows} == {
        ("ckplus", 30.0, None, "")}
    assert all(r["frames"] == [] for r in rows)


def test_read_corpus_attaches_frames_in_numeric_order(ck_root: Path) -> None:
    result = read_corpus("ckplus", ck_root)
    assert result.table.schema == CLIP_SCHEMA and result.dropped == []
    rows = {row["clip"]: row for row in result.table.to_pylist()}
    first = rows["S005_001"]
    assert first["root"] == str(ck_root)
    assert first["frames"] == [f"cohn-kanade-images/S005/001/S005_001_{n:08d}.png"
                               for n in range(1, 12)]
    assert first["frame_numbers"] == list(range(1, 12))
    unpadded = rows["S022_001"]
    assert unpadded["frame_numbers"] == list(range(1, 13))
    assert unpadded["frames"][8:10] == ["cohn-kanade-images/S022/001/S022_001_9.png",
                                        "cohn-kanade-images/S022/001/S022_001_10.png"]


def test_ckplus_is_a_macro_format_read_like_the_others(ck_root: Path) -> None:
    assert MACRO_FORMATS == ("ckplus",) and "ckplus" not in FORMATS
    assert parse_annotations("ckplus", ck_root).table.num_rows == 4
    row = {"dataset": "ckplus", "subject": "S005", "clip": "S005_001"}
    assert clip_folder(row).as_posix() == "cohn-kanade-images/S005/001"
    rows = attach_frames(ckplus.read_annotations(ck_root), ck_root).to_pylist()
    assert [len(r["frames"]) for r in rows] == [11, 4, 14, 12]


@pytest.mark.parametrize(("text", "emotion"), [
    ("   0.0000000e+00\n", "neutral"), ("   1.0000000e+00\n", "anger"),
    ("2", "contempt"), ("   3.0000000e+00", "disgust"), ("4.0", "fear"),
    ("   5.0000000e+00\r\n", "happy"), ("6e0", "sadness"), ("\t7.0000000e+00  \n", "surprise")])
def test_emotion_codes(tmp_path: Path, text: str, emotion: str) -> None:
    path = tmp_path / "S005_001_00000011_emotion.txt"
    path.write_text(text)
    assert ckplus.read_emotion(path) == emotion


def test_neutral_has_no_composite_label(ck_root: Path) -> None:
    path = ck_root / "Emotion" / "S005" / "001" / "S005_001_00000011_emotion.txt"
    path.write_text(_code(0))
    row = ckplus.read_annotations(ck_root).to_pylist()[0]
    assert (row["emotion"], row["label"]) == ("neutral", None)


@pytest.mark.parametrize("text", [_code(8), _code(-1), _code(2.5), "disgust", "", "   3 4",
                                  "nan", "inf"])
def test_emotion_that_is_not_a_code_is_rejected(ck_root: Path, text: str) -> None:
    (ck_root / "Emotion" / "S005" / "001" / "S005_001_00000011_emotion.txt").write_text(text)
    _raises(r"S005_001_00000011_emotion\.txt: emotion .* is not a CK\+ code 0-7", ck_root)


def test_emotion_file_that_is_not_ascii_is_rejected(ck_root: Path) -> None:
    path = ck_root / "Emotion" / "S005" / "001" / "S005_001_00000011_emotion.txt"
    path.write_bytes(b"\xff\xfe3\x00")
    _raises(r"S005_001_00000011_emotion\.txt: label file is not ASCII text", ck_root)


def test_emotion_file_off_the_last_frame_is_rejected(ck_root: Path) -> None:
    folder = ck_root / "Emotion" / "S005" / "001"
    (folder / "S005_001_00000011_emotion.txt").rename(folder / "S005_001_00000010_emotion.txt")
    _raises(r"S005_001_00000010_emotion\.txt: codes frame 10 but the sequence ends at frame 11; "
            r"CK\+ codes the peak, which is the last frame", ck_root)


def test_facs_file_off_the_last_frame_is_rejected(ck_root: Path) -> None:
    folder = ck_root / "FACS" / "S005" / "001"
    (folder / "S005_001_00000011_facs.txt").rename(folder / "S005_001_00000001_facs.txt")
    _raises(r"S005_001_00000001_facs\.txt: codes frame 1 but the sequence ends at frame 11",
            ck_root)


def test_emotion_file_of_another_sequence_is_rejected(ck_root: Path) -> None:
    folder = ck_root / "Emotion" / "S005" / "001"
    (folder / "S005_001_00000011_emotion.txt").rename(folder / "S005_002_00000011_emotion.txt")
    _raises(r"S005_002_00000011_emotion\.txt: label file name is not "
            r"S005_001_<frame number>_emotion\.txt", ck_root)


def test_two_emotion_files_are_rejected(ck_root: Path) -> None:
    _label(ck_root, "Emotion", "S005", "001", 10, "_emotion.txt", _code(1))
    _raises(r"Emotion/S005/001: more than one _emotion\.txt file "
            r"\(S005_001_00000010_emotion\.txt, S005_001_00000011_emotion\.txt\)", ck_root)


def test_emotion_file_without_an_image_sequence_is_rejected(ck_root: Path) -> None:
    _label(ck_root, "Emotion", "S005", "003", 9, "_emotion.txt", _code(1))
    _raises(r"S005_003_00000009_emotion\.txt: label file without an image sequence "
            r"\(cohn-kanade-images/S005/003 not read\)", ck_root)


@pytest.mark.parametrize(("text", "line"), [
    (f"{_code(1)}{_code(0)}\n{_code(2)}\n", 2), (f"{_code(1.5)}{_code(0)}\n", 1),
    (f"\n{_code(0)}{_code(0)}\n", 2), (f"{_code(1)}{_code(0)}\nAU4 B\n", 2),
    (f"{_code(1)}{_code(0)}{_code(0)}\n", 1)])
def test_facs_line_that_is_not_au_and_intensity_is_rejected(ck_root: Path, text: str,
                                                            line: int) -> None:
    (ck_root / "FACS" / "S005" / "001" / "S005_001_00000011_facs.txt").write_text(text)
    _raises(rf"S005_001_00000011_facs\.txt line {line}: .* is not '<AU> <intensity>'", ck_root)


def test_empty_facs_file_is_rejected(ck_root: Path) -> None:
    (ck_root / "FACS" / "S005" / "001" / "S005_001_00000011_facs.txt").write_text("\n  \n")
    _raises(r"S005_001_00000011_facs\.txt: FACS file lists no action units", ck_root)


def test_empty_sequence_folder_is_rejected(ck_root: Path) -> None:
    folder = ck_root / "cohn-kanade-images" / "S005" / "003"
    folder.mkdir()
    (folder / ".DS_Store").write_text("stray")
    _raises(r"S005/003: CK\+ sequence folder holds no frames \(expected "
            r"S005_003_00000001\.png \.\.\.\)", ck_root)


def test_frame_of_another_sequence_is_rejected(ck_root: Path, make_clip) -> None:
    make_clip(ck_root / "cohn-kanade-images" / "S005" / "001", [12], pattern="S005_002_{:08d}.png")
    _raises(r"S005_002_00000012\.png: frame name does not match its folder: expected "
            r"S005_001_<frame number>\.png", ck_root)


def test_frame_without_a_prefix_is_rejected(ck_root: Path, make_clip) -> None:
    make_clip(ck_root / "cohn-kanade-images" / "S010" / "006", [15], pattern="img{}.png")
    _raises(r"img15\.png: frame name does not match its folder", ck_root)


def test_symlinked_sequence_outside_the_root_is_rejected(tmp_path: Path, ck_root: Path,
                                                         make_clip) -> None:
    make_clip(tmp_path / "elsewhere", [1, 2], pattern="S005_003_{:08d}.png")
    os.symlink(tmp_path / "elsewhere", ck_root / "cohn-kanade-images" / "S005" / "003")
    _raises(r"S005/003: resolves outside the corpus root \(symlink\?\)", ck_root)


def test_symlinked_frame_outside_the_root_is_rejected(tmp_path: Path, ck_root: Path,
                                                      make_clip) -> None:
    outside, = make_clip(tmp_path / "elsewhere", [12], pattern="S005_001_{:08d}.png")
    os.symlink(outside, ck_root / "cohn-kanade-images" / "S005" / "001" / outside.name)
    _raises(r"S005_001_00000012\.png: resolves outside the corpus root", ck_root)


def test_symlinked_emotion_file_outside_the_root_is_rejected(tmp_path: Path,
                                                             ck_root: Path) -> None:
    outside = tmp_path / "S010_006_00000014_emotion.txt"
    outside.write_text(_code(5))
    inside = ck_root / "Emotion" / "S010" / "006" / outside.name
    inside.unlink()
    os.symlink(outside, inside)
    _raises(r"S010_006_00000014_emotion\.txt: resolves outside the corpus root", ck_root)


def test_symlink_inside_the_root_is_accepted(ck_root: Path, make_clip) -> None:
    store = ck_root / "store"
    make_clip(store, [1, 2, 3], pattern="S005_003_{:08d}.png")
    os.symlink(store, ck_root / "cohn-kanade-images" / "S005" / "003")
    rows = read_corpus("ckplus", ck_root).table.to_pylist()
    assert rows[2]["clip"] == "S005_003"
    assert rows[2]["frames"][0] == "cohn-kanade-images/S005/003/S005_003_00000001.png"


def test_tree_without_sequences_is_an_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "CK+" / "cohn-kanade-images" / "S005").mkdir(parents=True)
    _raises(r"CK\+: no clip rows found: empty ckplus corpus", tmp_path / "CK+")


def test_root_without_the_image_folder_is_rejected_with_advice(tmp_path: Path,
                                                                ck_root: Path) -> None:
    _raises(r"cohn-kanade-images/cohn-kanade-images: CK\+ image folder not found: the root must "
            r"be the folder holding cohn-kanade-images", ck_root / "cohn-kanade-images")


def test_a_sheet_given_for_ckplus_is_refused_with_advice(tmp_path: Path, ck_root: Path) -> None:
    (tmp_path / "ck.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match=r"ck\.xlsx: CK\+ has no annotation sheet"):
        read_corpus("ckplus", ck_root, tmp_path / "ck.xlsx")


def test_sequence_removed_before_attaching_names_the_clip(tmp_path: Path, ck_root: Path,
                                                          make_clip) -> None:
    table = ckplus.read_annotations(ck_root)
    folder = ck_root / "cohn-kanade-images" / "S005" / "002"
    for frame in folder.iterdir():
        frame.unlink()
    folder.rmdir()
    with pytest.raises(DataError, match=r"ckplus clip S005_002 .*clip folder not found"):
        attach_frames(table, ck_root)


def test_last_frame_removed_before_attaching_is_named(ck_root: Path) -> None:
    table = ckplus.read_annotations(ck_root)
    (ck_root / "cohn-kanade-images" / "S005" / "002" / "S005_002_00000004.png").unlink()
    with pytest.raises(DataError, match=r"ckplus clip S005_002 .*frame file missing for apex 4, "
                                        r"offset 4"):
        attach_frames(table, ck_root)


def test_table_with_a_climbing_clip_name_is_rejected(ck_root: Path) -> None:
    table = ckplus.read_annotations(ck_root).slice(0, 1)
    table = table.set_column(table.schema.get_field_index("clip"), "clip",
                             pa.array(["S005_../../etc"]))
    with pytest.raises(DataError, match=r"ckplus clip S005_\.\./\.\./etc: sequence "
                                        r"'\.\./\.\./etc' is not a plain name"):
        attach_frames(table, ck_root)


def test_table_mixing_ckplus_with_a_micro_corpus_is_rejected(tmp_path: Path, ck_root: Path,
                                                             write_xlsx) -> None:
    sheet = write_xlsx(tmp_path / "samm.xlsx", [
        ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
         "Duration", "Micro", "Action Units", "Estimated Emotion"],
        ["006", "006_1_2", 1, 10, 11, 12, 3, "Micro", "4", "Anger"]])
    mixed = pa.concat_tables([ckplus.read_annotations(ck_root), samm.read_annotations(sheet)])
    with pytest.raises(DataError, match=r"table mixes ckplus with ckplus, samm"):
        attach_frames(mixed, ck_root)
