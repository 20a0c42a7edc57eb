"""`mer faces`: face alignment of every clip of a corpus as Prefect tasks (flow `mer-faces`).

The clips are cut into chunks of ``runtime.clips_per_task``, each a task calling
:func:`mer.stages.faces.align_table`, on :func:`flows.runners.task_runner` (one chunk at a time
locally, or on the Dask cluster ``runtime.dask_address`` names). Clips are independent, so the
table and arrays are those of one local pass, in input order. The DVC stage stays an ordinary
command.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from flows.runners import chunks, concat_tables, task_runner
from mer.config import FacesParams, load_params
from mer.data.atomic import write_parquet
from mer.stages import faces as faces_stage

logger = logging.getLogger(__name__)


@task(name="faces-chunk", cache_policy=NO_CACHE)
def align_chunk(clips: pa.Table, out_dir: Path, params: FacesParams) -> pa.Table:
    """Align one chunk of clips (their npz files written) and return its faces-table rows."""
    return faces_stage.align_table(clips, out_dir, params)


@flow(name="mer-faces")
def align_clips(clips: pa.Table, out_dir: Path, params: FacesParams,
                clips_per_task: int) -> pa.Table:
    """Align every clip, ``clips_per_task`` per task; the faces table in input order."""
    futures = align_chunk.map(chunks(clips, clips_per_task), unmapped(out_dir),
                              unmapped(params))
    return concat_tables([future.result() for future in futures], faces_stage.FACES_SCHEMA)


def main(argv: Sequence[str] | None = None) -> int:
    """`mer faces`: align all clips of the table and write the faces table."""
    args = faces_stage.parse_args(argv)
    params = load_params(args.params)
    run = align_clips.with_options(task_runner=task_runner(params))
    table = run(pq.read_table(args.clips), args.out_dir, params.faces,
                params.runtime.clips_per_task)
    write_parquet(args.table, table)
    logger.info("%d clips aligned -> %s", table.num_rows, args.out_dir)
    return 0
