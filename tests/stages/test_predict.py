"""`mer predict` on one clip folder of a tiny synthetic corpus with seeded fold models, and clear
errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from mer.data.errors import DataError
from mer.data.schema import LABELS
from mer.models import create_model
from mer.stages import predict
from mer.synth import SynthConfig, generate

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"
ENTRY = "ststnet"  # the smallest model
#: One subject per corpus, a few short clips: enough for one CASME II clip folder.
TINY_CORPUS = {"casme2_subjects": 1, "samm_subjects": 1, "smic_subjects": 1, "macro_subjects": 1,
               "casme2_clips": 6, "casme2_others": 1, "samm_clips": 6, "samm_others": 1,
               "smic_clips": 6, "micro_max_frames": 8, "smic_max_frames": 8,
               "macro_sequences": 1, "macro_frames": (6, 8)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny embedded-default corpus (the real layouts, a face that dlib finds)."""
    out = tmp_path_factory.mktemp("synthetic")
    generate(out, 0, SynthConfig(**TINY_CORPUS))
    return out


@pytest.fixture
def clip_dir(corpus: Path, tmp_path: Path) -> Path:
    """One synthetic CASME II clip folder, copied."""
    subject = corpus / "micro/casme2/CASME2_RAW_selected/sub01"
    first = sorted(p for p in subject.iterdir() if p.is_dir())[0]
    return Path(shutil.copytree(first, tmp_path / first.name))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with two seeded, untrained ststnet folds and their config.yaml, laid out
    as the train stage writes them (the plumbing is under test, not the accuracy)."""
    models = tmp_path_factory.mktemp("models")
    (models / ENTRY).mkdir()
    config = {"model": ENTRY, "params": {"name": ENTRY, "hparams": {}}}
    (models / ENTRY / "config.yaml").write_text(yaml.safe_dump(config))
    for fold in (0, 1):
        torch.manual_seed(fold)
        torch.save(create_model(ENTRY).state_dict(), models / ENTRY / f"fold_{fold:02d}.pt")
    return models


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
