"""The Prefect task runner every per-unit flow uses (LOSO folds, chunks of clips).

Local thread pool of ``train.workers``; with ``train.dask_address`` set, prefect-dask's
``DaskTaskRunner`` sends the tasks to that Dask cluster with no code change.
"""

from __future__ import annotations

from mer.config import Params


def task_runner(params: Params):  # noqa: ANN201 - a Prefect TaskRunner
    """Dask when the params name a cluster, else a local thread pool of ``train.workers``."""
    if params.train.dask_address:
        from prefect_dask import DaskTaskRunner  # noqa: PLC0415

        return DaskTaskRunner(address=params.train.dask_address)
    from prefect.task_runners import ThreadPoolTaskRunner  # noqa: PLC0415

    return ThreadPoolTaskRunner(max_workers=params.train.workers)
