"""The Prefect task runner every per-unit flow uses (LOSO folds, chunks of clips), and the
chunking of a clip table into tasks.

One task at a time locally: torch already uses the CPU's threads inside a task, and folds in
threads of one process would share torch's global RNG and deterministic flags, so their results
would depend on timing. With ``runtime.dask_address`` set, prefect-dask's ``DaskTaskRunner``
sends the tasks to that Dask cluster (one process per worker) with no code change.
"""

from __future__ import annotations

import pyarrow as pa

from mer.config import Params


def task_runner(params: Params):  # noqa: ANN201 - a Prefect TaskRunner
    """Dask when ``runtime.dask_address`` names a cluster, else one local worker."""
    if params.runtime.dask_address:
        from prefect_dask import DaskTaskRunner  # noqa: PLC0415

        return DaskTaskRunner(address=params.runtime.dask_address)
    from prefect.task_runners import ThreadPoolTaskRunner  # noqa: PLC0415

    return ThreadPoolTaskRunner(max_workers=1)


def chunks(table: pa.Table, size: int) -> list[pa.Table]:
    """``table`` cut into consecutive slices of ``size`` rows (the last may be shorter)."""
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def concat_tables(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """The chunks' result tables joined in order (an empty ``schema`` table if none)."""
    return pa.concat_tables(tables) if tables else schema.empty_table()
