"""`mer predict` on one clip folder: the trained models on disk, and clear errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mer.data.errors import DataError
from mer.data.schema import LABELS
from mer.stages import predict

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "raw" / "synthetic" / "micro" / "casme2" / "CASME2_RAW_selected" / "sub01"
MODELS = ROOT / "models"
PARAMS = ROOT / "params.yaml"
ENTRY = "ststnet"  # the smallest trained entry


@pytest.fixture
def clip_dir(tmp_path: Path) -> Path:
    """One synthetic CASME II clip folder copied from the corpus on disk."""
    clips = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
    if not clips:
        pytest.skip(f"no synthetic clip under {CORPUS} (run `dvc repro synth`)")
    return Path(shutil.copytree(clips[0], tmp_path / clips[0].name))


@pytest.fixture
def trained() -> Path:
    if not sorted((MODELS / ENTRY).glob("fold_*.pt")):
        pytest.skip(f"no trained {ENTRY} under {MODELS} (run `dvc repro train@{ENTRY}`)")
    return MODELS


def _probabilities(out: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^\s+(negative|positive|surprise)\s+([0-9.]+)$", out, re.M)}


@pytest.mark.slow
def test_predicts_a_clip_with_all_folds(clip_dir: Path, trained: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = predict.main([str(clip_dir), "--model", ENTRY, "--models-dir", str(trained),
                         "--params", str(PARAMS)])
    out = capsys.readouterr().out
    assert code == 0
    label = re.search(r"^emotion: (\w+)$", out, re.M)
    assert label is not None and label.group(1) in LABELS
    probabilities = _probabilities(out)
    assert set(probabilities) == set(LABELS)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=2e-4)
    assert max(probabilities, key=probabilities.get) == label.group(1)
    assert "mean of the probabilities of" in out and "(estimated: spotted)" in out


@pytest.mark.slow
def test_given_apex_and_one_fold(clip_dir: Path, trained: Path) -> None:
    from mer.config import load_params

    numbers = sorted(int(re.sub(r"\D", "", p.stem)) for p in clip_dir.iterdir())
    result = predict.predict_clip(clip_dir, trained / ENTRY, load_params(PARAMS),
                                  onset_frame=numbers[0], apex_frame=numbers[len(numbers) // 2],
                                  fold=0)
    assert result.folds == (0,) and not result.apex_estimated
    assert result.apex_frame == numbers[len(numbers) // 2]
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert result.label in LABELS


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a frame")
    with pytest.raises(DataError, match="no frames: the folder holds no bmp/jpeg/jpg/png"):
        predict.main([str(tmp_path), "--model", ENTRY, "--params", str(PARAMS)])


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="clip folder not found"):
        predict.main([str(tmp_path / "nope"), "--params", str(PARAMS)])


def test_apex_not_among_frames(tmp_path: Path) -> None:
    for n in (1, 2, 3):
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / f"img{n}.png")
    with pytest.raises(DataError, match=r"apex frame 9 is not among the frames \(1..3\)"):
        predict.main([str(tmp_path), "--apex", "9", "--params", str(PARAMS)])


@pytest.mark.slow
def test_no_face_is_a_clear_error(tmp_path: Path, trained: Path) -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 5):
        noise = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
        Image.fromarray(noise).save(tmp_path / f"img{n}.png")
    from mer.faces import NoFaceError

    with pytest.raises(NoFaceError, match="face"):
        predict.main([str(tmp_path), "--model", ENTRY, "--models-dir", str(trained),
                      "--params", str(PARAMS)])


def test_untrained_entry_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "clip").mkdir()
    for n in (1, 2):
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "clip" / f"img{n}.png")
    with pytest.raises(DataError, match="not a trained model entry"):
        predict.main([str(tmp_path / "clip"), "--models-dir", str(tmp_path / "models"),
                      "--params", str(PARAMS)])
