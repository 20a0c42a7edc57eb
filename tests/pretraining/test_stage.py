"""`mer pretrain` (mer.stages.pretrain.main) on a tiny corpus written in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from mer.config import ConfigError
from mer.models import create_model
from mer.stages.pretrain import main
from mer.training.fit import load_state

PARAMS = {
    "runtime": {"threads": 1},
    "pretrain": {"hparams": {"input_size": 32, "widths": [8, 16]}, "epochs": 2, "seed": 5,
                 "samples_per_clip": 2, "batch_size": 4, "on_overlap": "exclude"},
}


LABELS = ("negative", "positive", "surprise")


def _micro_flow(root: Path) -> None:
    """Nine labelled micro clips of three subjects (and one unlabelled) in the flow stage's form."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10):
        path = f"casme2/s{i % 3}/c{i}.npz"
        (root / "flow" / path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(root / "flow" / path, **{k: rng.normal(size=(16, 16)).astype(np.float32)
                                          for k in ("u", "v", "strain")},
                 onset=rng.integers(0, 255, (16, 16), dtype=np.uint8),
                 apex=rng.integers(0, 255, (16, 16), dtype=np.uint8))
        rows.append({"dataset": "casme2", "subject": f"s{i % 3}", "clip": f"c{i}", "path": path,
                     "label": LABELS[i % 3] if i < 9 else None})
    pq.write_table(pa.Table.from_pylist(rows), root / "flow.parquet")


@pytest.fixture()
def corpus(tmp_path: Path, blob_clip: Callable[..., np.ndarray]) -> dict[str, Path]:
    """Five aligned macro clips of S1, S2 (who is also micro subject s9), S4, S5, a failed clip,
    and the micro flow table."""
    faces_dir = tmp_path / "faces"
    rows = []
    for i, (subject, status) in enumerate([("S1", "aligned"), ("S1", "aligned"),
                                           ("S2", "aligned"), ("S3", "no_face"),
                                           ("S4", "aligned"), ("S5", "aligned")]):
        path = f"ck/{subject}/{subject}_{i}.npz"
        grey = blob_clip(n_frames=6, size=40, seed=i)
        (faces_dir / path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(faces_dir / path, frames=np.repeat(grey[..., None], 3, axis=-1),
                 frame_numbers=np.arange(1, 7, dtype=np.int32))
        rows.append({"dataset": "ck", "subject": subject, "clip": f"{subject}_{i}",
                     "path": path, "status": status})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "faces.parquet")
    pq.write_table(pa.Table.from_pylist([{"dataset": "casme2", "subject": "s9"},
                                         {"dataset": "samm", "subject": "s8"}]),
                   tmp_path / "micro.parquet")
    (tmp_path / "macro_ids.csv").write_text("subject,identity\nS1,a\nS2,b\nS3,c\nS4,d\nS5,e\n")
    _micro_flow(tmp_path)
    (tmp_path / "micro_ids.csv").write_text("dataset,subject,identity\ncasme2,s9,b\nsamm,s8,z\n")
    return {"root": tmp_path, "faces": tmp_path / "faces.parquet", "faces_dir": faces_dir,
            "micro": tmp_path / "micro.parquet", "macro_ids": tmp_path / "macro_ids.csv",
            "micro_ids": tmp_path / "micro_ids.csv"}


def _run(corpus: dict[str, Path], params: dict, *extra: str) -> tuple[Path, Path]:
    root = corpus["root"]
    params = {"data": {"corpora": [{"format": "smic", "root": "unused"}]}, **params}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    out, config = root / "out" / "ma2mi.pt", root / "out" / "config.yaml"
    code = main(["--faces", str(corpus["faces"]), "--faces-dir", str(corpus["faces_dir"]),
                 "--micro-clips", str(corpus["micro"]), "--out", str(out),
                 "--micro-flow", str(root / "flow.parquet"), "--micro-flow-dir", str(root / "flow"),
                 "--metrics", str(root / "reports" / "metrics.json"),
                 "--config-out", str(config), "--params", str(root / "params.yaml"),
                 "--no-progress", *extra])
    assert code == 0
    return out, config


def test_writes_a_loadable_state_beside_its_config(corpus: dict[str, Path]) -> None:
    out, config_path = _run(corpus, PARAMS, "--macro-identities", str(corpus["macro_ids"]),
                            "--micro-identities", str(corpus["micro_ids"]))
    state = torch.load(out, map_location="cpu", weights_only=True)
    model = create_model("miacnet", input_size=32, widths=(8, 16))
    load_state(model, state)  # strict: a full MIACNet state
    config = yaml.safe_load(config_path.read_text())
    clips = config["clips"]
    assert (clips["aligned"], clips["not_aligned_skipped"]) == (5, 1)
    assert len(clips["held_out_subjects"]) == 1 and "ck/S2" not in clips["held_out_subjects"]
    held = 2 if clips["held_out_subjects"] == ["ck/S1"] else 1
    assert clips["used"] == 4 - held and clips["pairs"] == clips["used"] * 2 * 2
    metrics = json.loads((out.parent.parent / "reports" / "metrics.json").read_text())
    reconstruction = metrics["reconstruction"]["held_out"]
    assert reconstruction["clips"] == held and reconstruction["n_pairs"] == held * 2
    assert reconstruction["ratio"] == pytest.approx(reconstruction["l1"] / reconstruction["copy_l1"])
    probe = metrics["probe"]
    assert (probe["clips"], probe["subjects"]) == (9, 3)
    assert set(probe["uf1"]) == {"ma2mi", "random_init"}
    low, high = probe["difference"]["uf1"]["ci95"]
    assert low <= probe["difference"]["uf1"]["diff"] <= high
    assert config["overlap"]["policy"] == "exclude"
    assert config["overlap"]["matched_by"] == "identity"
    assert config["overlap"]["subjects"] == [
        {"macro": "ck/S2", "micro": ["casme2/s9"], "identity": "b"}]
    assert config["init_seed"] == 5 and len(config["history"]) == 2
    assert not list(out.parent.glob(".*.tmp"))


def test_a_rerun_writes_the_same_metrics_bytes(corpus: dict[str, Path]) -> None:
    """No timing in the metrics: a run killed after writing them leaves what the rerun writes."""
    metrics = corpus["root"] / "reports" / "metrics.json"
    _run(corpus, PARAMS)
    first = metrics.read_bytes()
    _run(corpus, PARAMS)
    assert metrics.read_bytes() == first


def test_accept_keeps_and_records_the_overlap(corpus: dict[str, Path]) -> None:
    params = {**PARAMS, "pretrain": {**PARAMS["pretrain"], "on_overlap": "accept"}}
    _, config_path = _run(corpus, params, "--macro-identities", str(corpus["macro_ids"]),
                          "--micro-identities", str(corpus["micro_ids"]))
    config = yaml.safe_load(config_path.read_text())
    assert config["clips"]["used"] + (2 if config["clips"]["held_out_subjects"] == ["ck/S1"]
                                      else 1) == 5
    assert config["overlap"]["policy"] == "accept"
    assert config["overlap"]["clips_overlapping"] == 1


def test_unknown_param_is_named(corpus: dict[str, Path]) -> None:
    params = {**PARAMS, "pretrain": {**PARAMS["pretrain"], "epoch": 3}}
    with pytest.raises(ConfigError, match=r"pretrain\.epoch"):
        _run(corpus, params)
