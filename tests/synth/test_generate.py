"""mer.synth.generate: determinism, native layouts and sheet formats, class skew."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from PIL import Image

from mer.synth import SynthConfig, generate
from mer.synth.generate import plan_corpus
from mer.synth.layouts import CASME2_HEADER, SAMM_HEADER

SMALL = SynthConfig(
    casme2_subjects=2, samm_subjects=2, smic_subjects=2, macro_subjects=2,
    casme2_clips=6, casme2_others=2, samm_clips=6, samm_others=1, smic_clips=6,
    micro_max_frames=12, smic_max_frames=8, macro_sequences=2, macro_frames=(6, 8),
)


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    generate(out, seed=3, config=SMALL, workers=1)
    return out


def test_same_seed_same_bytes_other_seed_differs(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    summary = generate(again, seed=3, config=SMALL, workers=2)
    first, second = _all_bytes(small), _all_bytes(again)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []
    assert summary.files == len(first)
    other = tmp_path / "c"
    generate(other, seed=4, config=SMALL, workers=1)
    third = _all_bytes(other)
    common = [k for k in first if k in third and k.endswith((".jpg", ".bmp", ".png"))]
    assert sum(first[k] != third[k] for k in common) > 0.9 * max(len(common), 1) or len(common) == 0
    assert first["micro/combined_3class_gt.csv"] != third["micro/combined_3class_gt.csv"]


def test_refuses_a_non_empty_folder(small: Path) -> None:
    with pytest.raises(ValueError, match="not empty"):
        generate(small, seed=3, config=SMALL, workers=1)


def test_casme2_layout_and_sheet(small: Path) -> None:
    sheet = small / "micro/casme2/CASME2-coding-synthetic.xlsx"
    rows = list(openpyxl.load_workbook(sheet).worksheets[0].iter_rows(values_only=True))
    assert rows[0] == CASME2_HEADER
    assert CASME2_HEADER == ("Subject", "Filename", None, "OnsetFrame", "ApexFrame",
                             "OffsetFrame", None, "Action Units", "Estimated Emotion")
    for subject, clip, blank, onset, apex, offset, blank2, aus, emotion in rows[1:]:
        assert isinstance(subject, int) and blank is None and blank2 is None
        assert onset <= apex <= offset and isinstance(aus, (int, str))
        assert emotion in {"happiness", "disgust", "repression", "surprise", "others", "sadness"}
        folder = small / f"micro/casme2/CASME2_RAW_selected/sub{subject:02d}/{clip}"
        names = sorted(p.name for p in folder.iterdir())
        assert names == sorted(f"img{n}.jpg" for n in range(onset, offset + 1))
        image = Image.open(folder / f"img{onset}.jpg")
        assert image.format == "JPEG" and image.mode == "RGB"
        assert 240 <= image.width <= 320 and image.height == 240


def test_samm_layout_and_sheet(small: Path) -> None:
    sheet = small / "micro/samm/SAMM_Micro_FACS_Codes_synthetic.xlsx"
    rows = list(openpyxl.load_workbook(sheet).worksheets[0].iter_rows(values_only=True))
    assert any(v for row in rows[:13] for v in row if v)  # a text preamble
    assert rows[13] == SAMM_HEADER
    assert SAMM_HEADER == ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                           "Offset Frame", "Duration", "Micro", "Action Units",
                           "Estimated Emotion", "Objective Classes", "Notes")
    assert len(rows) > 14
    for row in rows[14:]:
        subject, clip, _, onset, apex, offset, duration = row[:7]
        assert isinstance(subject, int) and clip.startswith(f"{subject:03d}_")
        assert onset <= apex <= offset and duration == offset - onset + 1
        folder = small / f"micro/samm/SAMM/{subject:03d}/{clip}"
        names = sorted(p.name for p in folder.iterdir())
        assert names == [f"{subject:03d}_{n:05d}.jpg" for n in range(onset, offset + 1)]
        image = Image.open(folder / names[0])
        assert image.format == "JPEG" and image.mode == "L"


def test_smic_layout(small: Path) -> None:
    clips = sorted((small / "micro/smic/HS").glob("s*/micro/*/*"))
    assert clips
    for clip in clips:
        subject, emotion = clip.parts[-4], clip.parts[-2]
        assert re.fullmatch(r"s[1-9]\d*", subject) and emotion in {"negative", "positive", "surprise"}
        assert re.fullmatch(rf"{subject}_(ne|po|sur)_\d\d", clip.name)
        frames = sorted(clip.iterdir())
        assert all(re.fullmatch(r"image\d{6}\.bmp", f.name) for f in frames)
        numbers = [int(f.name[5:11]) for f in frames]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert Image.open(frames[0]).format == "BMP"


def test_composite_gt_copies_the_real_spellings(small: Path) -> None:
    raw = (small / "micro/combined_3class_gt.csv").read_bytes()
    assert raw.endswith(b"\r\n") and not raw.startswith(b"dataset")
    rows = list(csv.reader(raw.decode().splitlines()))
    assert [r[0] for r in rows] == sorted([r[0] for r in rows], key=["casme2", "smic", "samm"].index)
    for dataset, subject, clip, label in rows:
        assert label in {"0", "1", "2"}
        if dataset == "casme2":
            assert re.fullmatch(r"sub\d\d", subject)
            assert (small / f"micro/casme2/CASME2_RAW_selected/{subject}/{clip}").is_dir()
        elif dataset == "smic":
            assert re.fullmatch(r"s\d\d", subject) and clip.startswith(subject + "_")
            disk = f"s{int(subject[1:])}"
            assert list((small / f"micro/smic/HS/{disk}/micro").glob(f"*/{disk}{clip[3:]}"))
        else:
            assert subject == str(int(subject)) and clip.startswith(f"{int(subject):03d}_")
    sheet = openpyxl.load_workbook(small / "micro/casme2/CASME2-coding-synthetic.xlsx")
    others = [r for r in sheet.worksheets[0].iter_rows(min_row=2, values_only=True)
              if r[8] == "others"]
    listed = {(r[1], r[2]) for r in rows if r[0] == "casme2"}
    assert others and all((f"sub{r[0]:02d}", r[1]) not in listed for r in others)


def test_ck_layout_and_subjects(small: Path) -> None:
    sequences = sorted((small / "macro/ck/cohn-kanade-images").glob("S*/*"))
    assert sequences
    for sequence in sequences:
        subject, number = sequence.parts[-2], sequence.name
        frames = sorted(p.name for p in sequence.iterdir())
        assert frames[0] == f"{subject}_{number}_00000001.png"
        assert frames == [f"{subject}_{number}_{i:08d}.png" for i in range(1, len(frames) + 1)]
        emotion = small / f"macro/ck/Emotion/{subject}/{number}"
        for text in emotion.glob("*_emotion.txt"):
            assert text.name == frames[-1].replace(".png", "_emotion.txt")
            assert re.fullmatch(r"   [1-7]\.0000000e\+00\n", text.read_text())
    macro = list(csv.DictReader((small / "macro/subjects.csv").open()))
    micro = list(csv.DictReader((small / "micro/subjects.csv").open()))
    assert {r["subject"] for r in macro} == {s.parts[-2] for s in sequences}
    assert not {r["identity"] for r in macro} & {r["identity"] for r in micro}


def test_manifest_lists_every_file_with_its_hash(small: Path) -> None:
    text = (small / "manifest.json").read_text()
    manifest = json.loads(text)
    assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert manifest["seed"] == 3 and manifest["config"]["casme2_subjects"] == 2
    on_disk = {k for k in _all_bytes(small) if k != "manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name in list(on_disk)[:50]:
        assert manifest["files"][name]["sha256"] == hashlib.sha256((small / name).read_bytes()).hexdigest()


def test_default_class_skew_and_counts() -> None:
    identities, plans = plan_corpus(SynthConfig(), seed=0)
    assert len(identities) >= 16
    for dataset in ("casme2", "samm", "smic"):
        mine = [p for p in plans if p.dataset == dataset]
        assert 40 <= len(mine) <= 60
        labels = [p.label for p in mine if p.label is not None]
        counts = np.bincount(labels, minlength=3)
        assert counts[0] > counts[1] >= counts[2] > 0, (dataset, counts)
        assert len({p.subject for p in mine}) == {"casme2": 6, "samm": 5, "smic": 5}[dataset]
        assert all(p.n_frames <= 40 for p in mine)
    assert sum(p.emotion == "others" for p in plans if p.dataset == "casme2") >= 5
    micro_ids = {p.identity for p in plans if p.dataset != "ck"}
    macro_ids = {p.identity for p in plans if p.dataset == "ck"}
    assert len(micro_ids) == 16 and not micro_ids & macro_ids
    # AU combinations overlap between classes, as in the real sheets
    codes = {}
    for p in plans:
        if p.label is not None and p.dataset != "ck":
            codes.setdefault(p.au_code, set()).add(p.label)
    assert any(len(v) > 1 for v in codes.values())


@pytest.mark.slow
def test_default_corpus_is_deterministic(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=0, workers=2)
    generate(tmp_path / "b", seed=0, workers=1)
    assert first.clips == {"casme2": 58, "samm": 50, "smic": 45, "ck": 240}
    a, b = _all_bytes(tmp_path / "a"), _all_bytes(tmp_path / "b")
    assert sorted(a) == sorted(b) and all(a[k] == b[k] for k in a)
