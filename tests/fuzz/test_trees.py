"""Hostile folder trees: symlinks out of the root, ``..`` and absolute names, absurd frame ranges,
weird frame names, empty folders, files where folders belong. Readers list, never write.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mer.data.errors import DataError
from mer.data.readers import ReaderPolicy, ReadResult, parse_annotations, read_corpus

SAMM_HEADER = ["Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame",
               "Action Units", "Estimated Emotion"]
CASME2_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                 "Action Units", "Estimated Emotion"]


def _frames(folder: Path, names) -> None:
    """Empty frame files: attaching lists frames, it never decodes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def _samm(base: Path, sheets, filename: str = "006_1_2", onset=10, apex=11, offset=12,
          frames=range(9, 14)) -> tuple[Path, Path]:
    """A SAMM root with clip 006/006_1_2 (frames 9..13) and its sheet (csv) beside the root."""
    root = base / "SAMM"
    _frames(root / "006" / "006_1_2", [f"006_{n:05d}.jpg" for n in frames])
    sheet = base / "samm.csv"
    sheet.write_bytes(sheets.csv([SAMM_HEADER, [6, filename, onset, apex, offset, "4",
                                                "Anger"]]))
    return root, sheet


def _outside(base: Path) -> Path:
    outside = base / "outside"
    _frames(outside, [f"006_{n:05d}.jpg" for n in range(9, 14)])
    (outside / "secret.txt").write_text("not yours")
    return outside


def _read_samm(base: Path, root: Path, sheet: Path, outcome, snapshot):
    before = snapshot(base)
    result = outcome(lambda: read_corpus("samm", root, sheet), "SAMM", "samm.csv", "006_1_2")
    assert snapshot(base) == before, "reading changed the files"
    return result


def _clip(base: Path) -> Path:
    return base / "SAMM" / "006" / "006_1_2"


def _replace_clip_with_link(base: Path, target: str | Path) -> None:
    clip = _clip(base)
    for child in clip.iterdir():
        child.unlink()
    clip.rmdir()
    os.symlink(target, clip)


# Each case mutates a valid SAMM tree; the value says what must come out.
TREE_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "clip_dir_symlink_absolute_outside": (
        lambda b: _replace_clip_with_link(b, _outside(b)), "outside"),
    "clip_dir_symlink_relative_outside": (
        lambda b: (_outside(b), _replace_clip_with_link(b, "../../outside")), "outside"),
    "subject_dir_symlink_outside": (
        lambda b: (_frames(b / "out6" / "006_1_2", [f"006_{n:05d}.jpg" for n in range(9, 14)]),
                   os.rename(b / "SAMM" / "006", b / "moved"),
                   os.symlink(b / "out6", b / "SAMM" / "006")), "outside"),
    "frame_symlink_absolute_outside": (
        lambda b: (_outside(b), (_clip(b) / "006_00011.jpg").unlink(),
                   os.symlink(b / "outside" / "006_00011.jpg", _clip(b) / "006_00011.jpg")),
        "outside"),
    "frame_symlink_relative_outside": (
        lambda b: (_outside(b), (_clip(b) / "006_00011.jpg").unlink(),
                   os.symlink("../../../outside/006_00011.jpg", _clip(b) / "006_00011.jpg")),
        "outside"),
    "frame_symlink_to_etc_passwd": (
        lambda b: ((_clip(b) / "006_00010.jpg").unlink(),
                   os.symlink("/etc/passwd", _clip(b) / "006_00010.jpg")), "outside"),
    "frame_symlink_inside_root": (
        lambda b: (_frames(b / "SAMM" / "store", ["f.jpg"]), (_clip(b) / "006_00011.jpg").unlink(),
                   os.symlink("../../store/f.jpg", _clip(b) / "006_00011.jpg")), "ok"),
    "clip_dir_symlink_loop": (lambda b: _replace_clip_with_link(b, "006_1_2"), "not found"),
    "clip_dir_symlink_to_parent_outside": (
        lambda b: _replace_clip_with_link(b, "../.."), "outside"),
    "clip_dir_symlink_to_parent_inside": (lambda b: _replace_clip_with_link(b, ".."), "missing"),
    "dangling_apex_symlink": (
        lambda b: ((_clip(b) / "006_00011.jpg").unlink(),
                   os.symlink("nowhere.jpg", _clip(b) / "006_00011.jpg")), "missing"),
    "empty_clip_folder": (
        lambda b: [p.unlink() for p in _clip(b).iterdir()], "missing"),
    "clip_folder_is_a_file": (
        lambda b: ([p.unlink() for p in _clip(b).iterdir()], _clip(b).rmdir(),
                   _clip(b).write_text("x")), "not found"),
    "subject_folder_is_a_file": (
        lambda b: (_replace_clip_with_link(b, "x"), (b / "SAMM" / "006" / "006_1_2").unlink(),
                   (b / "SAMM" / "006").rmdir(), (b / "SAMM" / "006").write_text("x")),
        "not found"),
    "frame_is_a_folder": (
        lambda b: ((_clip(b) / "006_00011.jpg").unlink(), (_clip(b) / "006_00011.jpg").mkdir()),
        "missing"),
    "frame_is_a_fifo": (
        lambda b: ((_clip(b) / "006_00011.jpg").unlink(), os.mkfifo(_clip(b) / "006_00011.jpg")),
        "missing"),
    "frame_without_number": (lambda b: _frames(_clip(b), ["img.jpg"]), "frame number"),
    "frame_duplicate_number": (lambda b: _frames(_clip(b), ["IMG11.JPG"]), "also used"),
    "frame_zero_padded_duplicate": (
        lambda b: _frames(_clip(b), ["006_" + "0" * 200 + "12.jpg"]), "also used"),
    "frame_huge_number_outside_range": (
        lambda b: _frames(_clip(b), ["img" + "9" * 200 + ".jpg"]), "ok"),
    "frame_decimal_name_outside_range": (lambda b: _frames(_clip(b), ["img1.5.jpg"]), "ok"),
    "frame_negative_looking_name": (lambda b: _frames(_clip(b), ["img-1.jpg"]), "ok"),
    "frame_other_script_digit": (lambda b: _frames(_clip(b), ["img\u0663.jpg"]), "ok"),
    "frame_newline_in_name": (lambda b: _frames(_clip(b), ["img\n11.jpg"]), "also used"),
    "hidden_and_stray_files": (
        lambda b: _frames(_clip(b), [".006_00011.jpg", "Thumbs.db", "notes.txt", "x.jpg.bak"]),
        "ok"),
    "root_is_a_file": (
        lambda b: (os.rename(b / "SAMM", b / "moved"), (b / "SAMM").write_text("x")),
        "root folder not found"),
    "root_is_a_symlink": (
        lambda b: (os.rename(b / "SAMM", b / "real"), os.symlink(b / "real", b / "SAMM")), "ok"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(TREE_CASES))
def test_samm_tree_cases(case: str, sheets, outcome, snapshot, tmp_path: Path) -> None:
    root, sheet = _samm(tmp_path, sheets)
    mutate, expected = TREE_CASES[case]
    mutate(tmp_path)
    result = _read_samm(tmp_path, root, sheet, outcome, snapshot)
    if expected == "ok":
        assert isinstance(result, ReadResult)
        assert result.table["frame_numbers"][0].as_py() == [10, 11, 12]
        for frame in result.table["frames"][0].as_py():
            assert (root / frame).resolve().is_relative_to(root.resolve())
    else:
        assert isinstance(result, DataError) and expected in result.rule, result


NAME_CELLS = ["..", ".", "../outside", "006_1_2/../../outside", "/etc", "/", "C:\\Windows", "C:",
              "D:x", "\\\\server\\share", "..\\outside", "~", "a\x00b", "a\nb", "\t", "x" * 300,
              "006_1_2\u202e", "😀"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", NAME_CELLS)
def test_filename_cells_cannot_leave_the_root(name: str, sheets, outcome, snapshot,
                                              tmp_path: Path) -> None:
    _outside(tmp_path)
    root, sheet = _samm(tmp_path, sheets, filename=name)
    result = _read_samm(tmp_path, root, sheet, outcome, snapshot)
    assert isinstance(result, DataError)
    assert "outside" not in str(getattr(result, "table", ""))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("onset,apex,offset,expected", [
    (0, 5, 10**9, "missing"), (0, 10**9, 10**9, "missing"), (0, 2**31 - 1, 2**31 - 1, "ok"),
    (10, 2**31, 12, "not a frame number"), (2**40, 2**40, 2**40, "not a frame number"),
    (10, 10**12, 12, "not a frame number"), (12, 11, 10, "no samm clip left"),
    (10, 13, 12, "no samm clip left"), (-1, 11, 12, "not a frame number"),
    (10, 11, 12.5, "not a frame number"), ("10", "11", "0012", "ok"),
])
def test_absurd_frame_ranges(onset, apex, offset, expected: str, sheets, outcome, snapshot,
                             tmp_path: Path) -> None:
    frames = [0, 5, 2**31 - 1] if expected == "ok" and onset == 0 else range(9, 14)
    root, sheet = _samm(tmp_path, sheets, onset=onset, apex=apex, offset=offset, frames=frames)
    result = _read_samm(tmp_path, root, sheet, outcome, snapshot)
    if expected == "ok":
        assert isinstance(result, ReadResult) and result.table.num_rows == 1
    else:
        assert isinstance(result, DataError) and expected in str(result), result


FRAME_NAME = st.one_of(
    st.builds("006_{:05d}.jpg".format, st.integers(0, 30)),
    st.builds("img{}.{}".format, st.integers(0, 10**20),
              st.sampled_from(["jpg", "JPG", "png", "bmp", "tiff", "jpeg", "txt", "jpg.bak"])),
    st.sampled_from(["img.jpg", "img-1.jpg", "img1.5.jpg", "IMG10.JPG", ".hidden12.jpg",
                     "Thumbs.db", "img\u0663.jpg", "img 11.jpg", "img11 .jpg"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
            min_size=1, max_size=20).map(lambda s: s + ".jpg"),
)


@pytest.mark.timeout(60)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(FRAME_NAME, max_size=12, unique_by=str.lower),
       onset=st.integers(0, 40), length=st.integers(-2, 40), apex=st.integers(-1, 45),
       policy=st.sampled_from(["drop", "fail", "estimate_apex"]))
def test_random_frame_names_and_ranges(names, onset: int, length: int, apex: int, policy: str,
                                       sheets, outcome, snapshot) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        root, sheet = _samm(base, sheets, onset=onset, apex=apex, offset=max(onset + length, 0),
                            frames=[])
        for name in names:
            if name not in (".jpg", "..jpg") and len(name.encode()) < 250:
                (_clip(base) / name).write_bytes(b"")
        before = snapshot(base)
        result = outcome(lambda: read_corpus("samm", root, sheet, ReaderPolicy(policy)),
                         "SAMM", "samm.csv", "006_1_2")
        assert snapshot(base) == before
    if isinstance(result, ReadResult):
        numbers = result.table["frame_numbers"][0].as_py()
        assert numbers == sorted(numbers) and numbers[0] == onset


# --- CASME II: Filename and Subject cells point into the tree ---------------------------------

@pytest.mark.timeout(30)
@pytest.mark.parametrize("subject,filename", [
    ("1/../..", "EP02_01f"), ("sub01", "../sub02/EP02_01f"), ("1", "/abs/EP02_01f"),
    ("²", "EP02_01f"), ("9" * 5000, "EP02_01f"), ("sub-1", "EP02_01f"), ("1", "EP02_01f"),
])
def test_casme2_subject_and_filename_cells(subject: str, filename: str, sheets, outcome,
                                           snapshot, tmp_path: Path) -> None:
    root = tmp_path / "CASME2"
    _frames(root / "sub01" / "EP02_01f", [f"img{n}.jpg" for n in range(46, 50)])
    sheet = tmp_path / "casme2.csv"
    sheet.write_bytes(sheets.csv([CASME2_HEADER, [subject, filename, 46, 47, 48, "12",
                                                  "happiness"]]))
    before = snapshot(tmp_path)
    result = outcome(lambda: read_corpus("casme2", root, sheet), "casme2.csv", "CASME2")
    assert snapshot(tmp_path) == before
    assert isinstance(result, ReadResult) == (filename == "EP02_01f" and subject == "1")


# --- SMIC and CK+: the tree is the annotation ------------------------------------------------

def _smic(base: Path) -> Path:
    root = base / "HS"
    _frames(root / "s1" / "micro" / "negative" / "s1_ne_01",
            [f"image{n:06d}.bmp" for n in range(35669, 35673)])
    return root


SMIC_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "valid": (lambda r: None, "ok"),
    "clip_symlink_outside": (
        lambda r: (_frames(r.parent / "out", ["image1.bmp", "image2.bmp"]),
                   os.symlink(r.parent / "out", r / "s1/micro/negative/s1_ne_02")), "outside"),
    "clip_symlink_loop_to_parent": (
        lambda r: os.symlink("..", r / "s1/micro/negative/s1_ne_02"), "no frames"),
    "emotion_folder_with_newline": (
        lambda r: (r / "s1/micro/neg\native").mkdir(), "unknown emotion folder"),
    "emotion_folder_is_a_file": (lambda r: (r / "s2/micro").mkdir(parents=True) or
                                 (r / "s2/micro/negative").write_text("x"), "ok"),
    "micro_is_a_file": (lambda r: (r / "s3").mkdir() or (r / "s3/micro").write_text("x"), "ok"),
    "empty_clip_folder": (lambda r: (r / "s1/micro/negative/s1_ne_09").mkdir(), "no frames"),
    "frame_number_too_big": (
        lambda r: _frames(r / "s1/micro/negative/s1_ne_01", ["image99999999999.bmp"]),
        "not a frame number"),
    "duplicate_clip_across_emotions": (
        lambda r: _frames(r / "s1/micro/positive/s1_ne_01", ["image1.bmp"]), "duplicate clip"),
    "huge_subject_folder": (lambda r: _frames(r / ("s" + "9" * 200) / "micro/negative/x",
                                              ["image1.bmp"]), "ok"),
    "empty_root": (lambda r: [p.unlink() for p in (r / "s1/micro/negative/s1_ne_01").iterdir()]
                   and None, "no frames"),
}


def _ck(base: Path) -> Path:
    root = base / "CK+"
    _frames(root / "cohn-kanade-images" / "S005" / "001",
            [f"S005_001_{n:08d}.png" for n in range(1, 12)])
    emotion = root / "Emotion" / "S005" / "001" / "S005_001_00000011_emotion.txt"
    emotion.parent.mkdir(parents=True)
    emotion.write_text("   3.0000000e+00\n")
    return root


CK_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "valid": (lambda r: None, "ok"),
    "sequence_symlink_outside": (
        lambda r: (_frames(r.parent / "out", [f"S005_002_{n:08d}.png" for n in (1, 2)]),
                   os.symlink(r.parent / "out", r / "cohn-kanade-images/S005/002")), "outside"),
    "frame_symlink_outside": (
        lambda r: (_frames(r.parent / "out", ["x.png"]),
                   os.symlink(r.parent / "out/x.png",
                              r / "cohn-kanade-images/S005/001/S005_001_00000012.png")),
        "outside"),
    "emotion_symlink_outside": (
        lambda r: ((r.parent / "e.txt").write_text("1"),
                   (r / "Emotion/S005/001/S005_001_00000011_emotion.txt").unlink(),
                   os.symlink(r.parent / "e.txt",
                              r / "Emotion/S005/001/S005_001_00000011_emotion.txt")), "outside"),
    "emotion_symlink_to_dev_zero": (
        lambda r: ((r / "Emotion/S005/001/S005_001_00000011_emotion.txt").unlink(),
                   os.symlink("/dev/zero", r / "Emotion/S005/001/S005_001_00000011_emotion.txt")),
        "ok"),  # not a regular file: the sequence is unlabelled, nothing is read from it
    "emotion_is_a_fifo": (
        lambda r: ((r / "Emotion/S005/001/S005_001_00000011_emotion.txt").unlink(),
                   os.mkfifo(r / "Emotion/S005/001/S005_001_00000011_emotion.txt")), "ok"),
    "emotion_huge": (
        lambda r: (r / "Emotion/S005/001/S005_001_00000011_emotion.txt").write_bytes(
            b" " * 10**6 + b"3"), "larger than"),
    "emotion_binary": (
        lambda r: (r / "Emotion/S005/001/S005_001_00000011_emotion.txt").write_bytes(
            b"\xff\xfe\x00"), "not ASCII"),
    "emotion_wrong_frame": (
        lambda r: os.rename(r / "Emotion/S005/001/S005_001_00000011_emotion.txt",
                            r / "Emotion/S005/001/S005_001_00000010_emotion.txt"), "codes frame"),
    "label_without_sequence": (
        lambda r: ((r / "Emotion/S999/001").mkdir(parents=True),
                   (r / "Emotion/S999/001/S999_001_00000001_emotion.txt").write_text("1")),
        "without an image sequence"),
    "images_folder_is_a_file": (
        lambda r: (os.rename(r / "cohn-kanade-images", r / "moved"),
                   (r / "cohn-kanade-images").write_text("x")), "image folder not found"),
    "empty_sequence": (lambda r: (r / "cohn-kanade-images/S005/002").mkdir(), "no frames"),
    "frame_with_foreign_prefix": (
        lambda r: _frames(r / "cohn-kanade-images/S005/001", ["S006_001_00000012.png"]),
        "does not match its folder"),
    "frame_number_too_big": (
        lambda r: _frames(r / "cohn-kanade-images/S005/003", ["S005_003_99999999999.png"]),
        "not a frame number"),
}


#: format -> (build a valid tree under a folder, its cases, the outcome's label); no coding sheet
SHEETLESS_TREES = {"smic": (_smic, SMIC_CASES, "HS"), "ckplus": (_ck, CK_CASES, "CK+")}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("format", "case"), [(format, case) for format, (_, cases, _) in
                                              SHEETLESS_TREES.items() for case in sorted(cases)])
def test_sheetless_tree_cases(format: str, case: str, outcome, snapshot, tmp_path: Path) -> None:
    build, cases, label = SHEETLESS_TREES[format]
    root = build(tmp_path)
    mutate, expected = cases[case]
    mutate(root)
    before = snapshot(tmp_path)
    result = outcome(lambda: read_corpus(format, root), label)
    assert snapshot(tmp_path) == before
    if expected == "ok":
        assert isinstance(result, ReadResult) and result.table.num_rows == 1
    else:
        assert isinstance(result, DataError) and expected in result.rule, result


@pytest.mark.timeout(30)
@pytest.mark.parametrize("format", ["casme2", "samm", "casme3", "mmew", "smic", "ckplus"])
def test_annotations_path_is_a_folder_or_missing(format: str, outcome, tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing"):
        assert isinstance(outcome(lambda: parse_annotations(format, path), str(tmp_path)),
                          DataError)
