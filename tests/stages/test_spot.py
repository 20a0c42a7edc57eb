"""`mer spot` and `mer predict` on video files: bad input is one line and exit 2, nothing written;
an MP4 of a generated clip padded with neutral seconds is spotted and predicted."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mer.cli import main as mer
from mer.data.video import read_video, write_video

ROOT = Path(__file__).resolve().parents[2]
PARAMS = str(ROOT / "params.yaml")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = mer(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_video_round_trip_keeps_the_frame_rate(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (12, 32, 48, 3), dtype=np.uint8)
    write_video(tmp_path / "a.mp4", frames, 25.0)
    video = read_video(tmp_path / "a.mp4")
    assert video.fps == pytest.approx(25.0) and video.frames.shape == (12, 32, 48, 3)


def test_undecodable_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 10)
    code, _, err = _run(capsys, "spot", str(bad), "--out", str(tmp_path / "i.csv"), "--params", PARAMS)
    assert code == 2 and "broken.mp4" in err and "cannot decode the video" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "i.csv").exists()


def test_video_shorter_than_a_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_video(tmp_path / "short.mp4", np.zeros((10, 64, 64, 3), np.uint8), 30.0)
    code, _, err = _run(capsys, "spot", str(tmp_path / "short.mp4"), "--out",
                        str(tmp_path / "i.json"), "--params", PARAMS)
    assert code == 2 and "short.mp4" in err and "too short to spot: 10 frames" in err
    assert not (tmp_path / "i.json").exists()


@pytest.mark.slow
def test_video_without_a_face(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (45, 96, 96, 3), dtype=np.uint8)
    write_video(tmp_path / "noface.mp4", noise, 30.0)
    code, _, err = _run(capsys, "predict", str(tmp_path / "noface.mp4"), "--params", PARAMS,
                        "--models-dir", str(tmp_path))
    assert code == 2 and "noface.mp4" in err and "face" in err
    assert len(err.strip().splitlines()) == 1 and sorted(tmp_path.iterdir()) == [tmp_path / "noface.mp4"]


@pytest.mark.slow
def test_predict_spots_a_padded_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.stages.test_predict import ENTRY, TINY_CORPUS

    from mer.models import create_model
    from mer.synth import SynthConfig
    from mer.synth.clips import render_plan
    from mer.synth.generate import plan_corpus
    from mer.synth.subjects import render_subject
    import torch
    import yaml

    config = SynthConfig(**{**TINY_CORPUS, "micro_max_frames": 12, "micro_amplitude_px": (1.2, 3.0),
                            "low_amplitude_fraction": 0.0})
    identities, plans = plan_corpus(config, 0)
    plan = next(p for p in plans if p.dataset == "casme2" and not p.blink)
    subject = render_subject(identities[plan.identity], config.frame_size("casme2"))
    clip = render_plan(plan, subject, 0.05, 0.0, config.noise_sigma)
    neutral = np.repeat(clip[:1], 45, axis=0)
    frames = np.concatenate([neutral, clip, np.repeat(clip[-1:], 45, axis=0)])
    write_video(tmp_path / "clip.mp4", frames, 30.0)
    models = tmp_path / "models" / ENTRY
    models.mkdir(parents=True)
    (models / "config.yaml").write_text(yaml.safe_dump({"model": ENTRY, "params": {"name": ENTRY}}))
    torch.manual_seed(0)
    torch.save(create_model(ENTRY).state_dict(), models / "fold_00.pt")
    code, out, err = _run(capsys, "predict", str(tmp_path / "clip.mp4"), "--model", ENTRY,
                          "--models-dir", str(tmp_path / "models"), "--params", PARAMS)
    assert code == 0, err
    assert re.search(r"^emotion: (negative|positive|surprise)$", out, re.M)
    apex = int(re.search(r"apex frame (\d+)", out).group(1))
    assert 46 <= apex <= 45 + len(clip), out  # frames are numbered from 1
