"""Faces and flow of a corpus as chunks of clips on the task runner (a thread pool, then a local
2-worker Dask cluster) give the tables and arrays of one local pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from PIL import Image
from skimage import data

from flows.server import local_server
from mer.config import FacesParams, FlowParams, Params
from mer.stages.faces import align_table
from mer.stages.flow import compute_flow

#: A quick TV-L1 (the flow must only be the same, not good), 2 clips per batch.
FLOW = {"nscales": 2, "warps": 1, "outer_iterations": 2, "inner_iterations": 5,
        "median_filtering": 3, "batch_size": 2}


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[str]:
    """A dedicated Prefect server on loopback, exported to this process and the Dask workers."""
    with local_server(tmp_path / "prefect") as url:
        yield url


def _clips(root: Path) -> pa.Table:
    """Five 3-frame clips of the astronaut photo, the face moving 0-4 px; clip c2's last frame is
    a truncated JPEG (excluded by faces, so the flow chunks start after a gap)."""
    photo = data.astronaut()
    rows = []
    for k in range(5):
        folder = root / f"c{k}"
        folder.mkdir(parents=True)
        for number in (1, 2, 3):
            shifted = np.roll(photo, shift=(number - 1) * k, axis=1)
            Image.fromarray(shifted).save(folder / f"img{number}.jpg", quality=90)
        rows.append({"dataset": "casme2", "subject": f"s{k % 2}", "clip": f"c{k}",
                     "root": str(root), "frames": [f"c{k}/img{n}.jpg" for n in (1, 2, 3)],
                     "frame_numbers": [1, 2, 3], "onset": 1, "apex": 3, "label": "negative"})
    broken = root / "c2" / "img3.jpg"
    broken.write_bytes(broken.read_bytes()[:2000])
    return pa.Table.from_pylist(rows)


def _arrays(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every npz under ``folder`` by relative path, loaded."""
    out = {}
    for path in sorted(folder.rglob("*.npz")):
        with np.load(path) as arrays:
            out[path.relative_to(folder).as_posix()] = {k: arrays[k] for k in arrays.files}
    return out


def _assert_same(a: Path, b: Path) -> None:
    left, right = _arrays(a), _arrays(b)
    assert sorted(left) == sorted(right) and left
    for name, arrays in left.items():
        assert sorted(arrays) == sorted(right[name])
        for key, value in arrays.items():
            np.testing.assert_array_equal(value, right[name][key], err_msg=f"{name}: {key}")


def test_chunks_of_the_aligned_clips_keep_the_clip_order() -> None:
    from flows.optical_flow import aligned_clips  # noqa: PLC0415 - imports Prefect
    from flows.runners import chunks  # noqa: PLC0415

    clips = pa.table({"dataset": ["a", "a", "b", "b", "b"], "clip": ["1", "2", "1", "2", "3"]})
    faces = pa.table({"dataset": ["b", "a", "b", "a", "b"], "clip": ["3", "1", "1", "2", "2"],
                      "status": ["aligned", "aligned", "no_face", "aligned", "aligned"]})
    kept = aligned_clips(clips, faces)
    assert list(zip(kept["dataset"].to_pylist(), kept["clip"].to_pylist())) == [
        ("a", "1"), ("a", "2"), ("b", "2"), ("b", "3")]
    assert [c["clip"].to_pylist() for c in chunks(kept, 3)] == [["1", "2", "2"], ["3"]]
    assert chunks(kept.slice(0, 0), 3) == []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_thread_pool_and_dask_give_the_local_tables_and_arrays(
        tmp_path: Path, prefect_server: str) -> None:
    from distributed import LocalCluster  # noqa: PLC0415

    from flows.faces import align_clips  # noqa: PLC0415
    from flows.faces import main as faces_main  # noqa: PLC0415
    from flows.optical_flow import flow_clips  # noqa: PLC0415
    from flows.optical_flow import main as flow_main  # noqa: PLC0415
    from flows.runners import task_runner  # noqa: PLC0415

    clips = _clips(tmp_path / "raw")
    faces_params, flow_params = FacesParams(size=64), FlowParams(**FLOW)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each single-threaded Dask worker: same float sums, same bits
    try:
        local = tmp_path / "local"
        faces = align_table(clips, local / "faces", faces_params)
        assert faces["status"].to_pylist() == ["aligned"] * 2 + ["bad_frame"] + ["aligned"] * 2
        flow = compute_flow(clips, faces, local / "faces", local / "flow", flow_params)
        assert flow.num_rows == 4

        pool = tmp_path / "pool"  # the commands, chunks of 2 clips on the local runner
        pq.write_table(clips, tmp_path / "clips.parquet")
        (tmp_path / "params.yaml").write_text(yaml.safe_dump({
            "data": {"corpora": [{"format": "casme2", "root": "raw"}]},
            "faces": {"size": 64}, "flow": FLOW, "runtime": {"clips_per_task": 2}}))
        common = ["--clips", str(tmp_path / "clips.parquet"), "--params",
                  str(tmp_path / "params.yaml")]
        assert faces_main([*common, "--out-dir", str(pool / "faces"),
                           "--table", str(pool / "faces.parquet")]) == 0
        assert flow_main([*common, "--faces", str(pool / "faces.parquet"), "--faces-dir",
                          str(pool / "faces"), "--out-dir", str(pool / "flow"),
                          "--table", str(pool / "flow.parquet"),
                          "--sequence-dir", str(pool / "sequence"), "--sequences", "false"]) == 0
        assert not any((pool / "sequence").iterdir())  # DVC's output exists, empty
    finally:
        torch.set_num_threads(threads)
    assert pq.read_table(pool / "faces.parquet").equals(faces)
    assert pq.read_table(pool / "flow.parquet").equals(flow)
    _assert_same(local / "faces", pool / "faces")
    _assert_same(local / "flow", pool / "flow")

    dask = tmp_path / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        params = Params.model_validate({
            "data": {"corpora": [{"format": "casme2", "root": "raw"}]},
            "runtime": {"dask_address": cluster.scheduler_address}})
        dask_faces = align_clips.with_options(task_runner=task_runner(params))(
            clips, dask / "faces", faces_params, 2)
        dask_flow = flow_clips.with_options(task_runner=task_runner(params))(
            clips, dask_faces, dask / "faces", dask / "flow", flow_params, 1)
    assert dask_faces.equals(faces) and dask_flow.equals(flow)
    _assert_same(local / "faces", dask / "faces")
    _assert_same(local / "flow", dask / "flow")
