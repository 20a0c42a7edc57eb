"""Folds dispatched to a local 2-worker Dask cluster, reporting to a dedicated Prefect server
(a temporary server per Dask worker would cost a server start each), give the same predictions
as the local thread-pool task runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from flows.server import local_server
from mer.config import Params
from mer.training.toy import toy_features


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[str]:
    """A dedicated Prefect server on loopback, exported to this process and the Dask workers."""
    with local_server(tmp_path / "prefect") as url:
        yield url


def _run(params: Params) -> list[np.ndarray]:
    from flows.runners import task_runner  # noqa: PLC0415 - after the API URL is set
    from flows.train import train_model  # noqa: PLC0415
    from mer.stages.train import make_job  # noqa: PLC0415

    data = toy_features(n_subjects=4, clips_per_subject=6, size=32)
    job = make_job(params, "ststnet", data.subjects)
    runs, _, _ = train_model.with_options(task_runner=task_runner(params))(
        job, data, None, None)
    results = runs[job.seeds[0]]
    assert [r.fold_index for r in results] == list(range(4))
    return [r.probs for r in results]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_dask_cluster_gives_the_local_predictions(prefect_server: str) -> None:
    from distributed import LocalCluster  # noqa: PLC0415

    base = {"data": {"corpora": [{"format": "smic", "root": "unused"}]},
            "models": {"ststnet": {"name": "ststnet", "train": {"epochs": 2, "device": "cpu"}}},
            "train": {"n_val_subjects": 0}, "runtime": {"threads": 1}}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each single-threaded Dask worker: same float sums, same bits
    try:
        local = _run(Params.model_validate(base))
    finally:
        torch.set_num_threads(threads)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        dask = _run(Params.model_validate(
            {**base, "runtime": {**base["runtime"], "dask_address": cluster.scheduler_address}}))
    for a, b in zip(local, dask, strict=True):
        np.testing.assert_array_equal(a, b)
