"""The flow stage's clip sequences (K crops onset -> offset, K - 1 flows) and how training loads
them: only for a model that declares them among its inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from mer.config import FlowParams, ModelParams
from mer.models import create_model
from mer.stages.flow import compute_flow
from mer.stages.train import load_features, model_inputs

#: A quick TV-L1 (the flow must only point the right way), 4 pairs per call.
QUICK = {"nscales": 2, "warps": 2, "outer_iterations": 4, "inner_iterations": 10,
         "median_filtering": 1, "batch_size": 4}


def _blob_clip(n: int = 6, size: int = 64, step: float = 2.0) -> np.ndarray:
    """``(n, size, size, 3)`` uint8 frames of a bright blob moving ``step`` px right per frame."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    frames = [255 * np.exp(-((x - 24 - step * t) ** 2 + (y - 32) ** 2) / 60.0) for t in range(n)]
    grey = np.clip(np.stack(frames), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def _one_clip(tmp_path: Path) -> tuple[pa.Table, pa.Table, Path]:
    """The clip table, the faces table and the faces folder of one aligned clip: frames 11..17,
    onset 12, apex 14, offset 16."""
    faces_dir = tmp_path / "faces"
    (faces_dir / "casme2" / "s1").mkdir(parents=True)
    np.savez(faces_dir / "casme2" / "s1" / "c0.npz", frames=_blob_clip(n=7),
             frame_numbers=np.arange(11, 18, dtype=np.int32))
    clips = pa.Table.from_pylist([{
        "dataset": "casme2", "subject": "s1", "clip": "c0", "frame_numbers": list(range(11, 18)),
        "onset": 12, "apex": 14, "offset": 16, "label": "negative"}])
    faces = pa.Table.from_pylist([{"dataset": "casme2", "clip": "c0", "status": "aligned",
                                   "path": "casme2/s1/c0.npz"}])
    return clips, faces, faces_dir


def test_apex_sampling_puts_the_annotated_apex_at_sample_k_over_2(tmp_path: Path) -> None:
    clips, faces, faces_dir = _one_clip(tmp_path)
    params = FlowParams(**QUICK, sequence_frames=4, sequence_size=32, sequence_sampling="apex")
    table = compute_flow(clips, faces, faces_dir, tmp_path / "flow", params, tmp_path / "seq")
    with np.load(tmp_path / "seq" / table["path"][0].as_py()) as arrays:
        assert arrays["frame_numbers"].tolist() == [12, 13, 14, 16]


def test_the_stage_writes_sequences_only_when_asked(tmp_path: Path) -> None:
    clips, faces, faces_dir = _one_clip(tmp_path)
    params = FlowParams(**QUICK, sequence_frames=3, sequence_size=32)
    with pytest.raises(ValueError, match="needs --sequence-dir"):
        compute_flow(clips, faces, faces_dir, tmp_path / "flow", params)
    table = compute_flow(clips, faces, faces_dir, tmp_path / "flow", params, tmp_path / "seq")
    with np.load(tmp_path / "seq" / table["path"][0].as_py()) as arrays:
        assert arrays["frame_numbers"].tolist() == [12, 14, 16]  # onset to offset
        assert arrays["frames"].shape == (3, 32, 32, 3)
        assert arrays["flows"].shape == (2, 2, 32, 32)
        u = arrays["flows"][:, 0]  # from the onset: 4 px, then 8 px of the 64-px frames
        assert 1.5 * u[0].max() < u[1].max()
    none = compute_flow(clips, faces, faces_dir, tmp_path / "flow0",
                        FlowParams(**QUICK), tmp_path / "seq0")
    assert none.num_rows == 1 and not (tmp_path / "seq0").exists()
    with pytest.raises(ValueError, match="0 \\(none\\) or >= 2"):
        FlowParams(sequence_frames=1)

    table.to_pandas().to_parquet(tmp_path / "flow.parquet")
    data = load_features(tmp_path / "flow.parquet", tmp_path / "flow", keys=("frames", "flows"),
                         sequence_dir=tmp_path / "seq")
    assert sorted(data.inputs) == ["flows", "frames"]  # not the onset-apex inputs
    assert data.inputs["frames"].shape == (1, 3, 3, 32, 32)
    assert data.inputs["flows"].shape == (1, 2, 2, 32, 32)
    assert float(data.inputs["frames"].max()) <= 1.0
    images = load_features(tmp_path / "flow.parquet", tmp_path / "flow", keys=("flow",))
    assert sorted(images.inputs) == ["flow"]
    with pytest.raises(ValueError, match="--sequence-dir"):
        load_features(tmp_path / "flow.parquet", tmp_path / "flow", keys=("frames", "flows"))


def test_a_model_declares_what_is_loaded() -> None:
    assert model_inputs(ModelParams(name="attr_contrastive")) == ("frames", "flows")
    assert model_inputs(ModelParams(name="attr_contrastive", hparams={"rgb": False})) \
        == ("flows",)
    assert model_inputs(ModelParams(name="micro_attention", hparams={"inputs": "apex"})) \
        == ("apex",)
    assert model_inputs(ModelParams(name="flow_logreg")) == ("flow",)


def test_sequences_are_augmented_like_images() -> None:
    from mer.training.augment import hflip, shift  # noqa: PLC0415

    flows = torch.randn(2, 2, 3, 8, 8)
    frames = torch.rand(2, 3, 4, 8, 8)
    out = hflip({"flows": flows, "frames": frames}, np.array([True, False]))
    assert torch.equal(out["flows"][0, 0], -flows[0, 0].flip(-1))  # u negated
    assert torch.equal(out["flows"][0, 1], flows[0, 1].flip(-1))
    assert torch.equal(out["frames"][1], frames[1])
    moved = shift({"frames": frames}, np.array([[1, 0], [0, 0]]))["frames"]
    assert torch.equal(moved[0, :, :, 1:], frames[0, :, :, :-1])  # every frame moves the same


def test_the_input_norm_and_resize_handle_sequences() -> None:
    model = create_model("attr_contrastive", input_size=16)
    inputs = {"frames": torch.rand(3, 3, 4, 32, 32), "flows": 5 + torch.randn(3, 2, 3, 32, 32)}
    resized = model.resize_inputs(inputs)
    assert resized["frames"].shape == (3, 3, 4, 16, 16)
    model.norm.fit(resized)
    normed = model.norm(resized)["flows"]
    assert normed.mean(dim=(0, 2, 3, 4)).abs().max() < 1e-4
