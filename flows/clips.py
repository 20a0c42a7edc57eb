"""`mer faces` and `mer flow`: per-clip work of a corpus as Prefect tasks (flows `mer-faces`,
`mer-flow`).

The clips are cut into chunks, each a task calling the library function the stage uses
(:func:`mer.stages.faces.align_table`, :func:`mer.stages.flow.compute_flow`), on the folds' task
runner (:func:`flows.runners.task_runner`): ``train.workers`` chunks at a time, or a Dask cluster
when ``train.dask_address`` names one. Clips are independent and a flow chunk is a whole number of
``flow.batch_size`` batches, so the tables and arrays are those of one local pass, in input order.
The DVC stages stay ordinary commands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from flows.runners import task_runner
from mer.config import FacesParams, FlowParams, load_params
from mer.data.atomic import write_parquet
from mer.stages import faces as faces_stage
from mer.stages import flow as flow_stage

logger = logging.getLogger(__name__)


def chunks(table: pa.Table, size: int) -> list[pa.Table]:
    """``table`` cut into consecutive slices of ``size`` rows (the last may be shorter)."""
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def aligned_clips(clips: pa.Table, faces: pa.Table) -> pa.Table:
    """The rows of the clip table whose clip the faces table has aligned, in clip-table order."""
    aligned = faces.filter(pc.equal(faces.column("status"), "aligned"))
    keys = set(zip(aligned.column("dataset").to_pylist(), aligned.column("clip").to_pylist(),
                   strict=True))
    mask = [key in keys for key in zip(clips.column("dataset").to_pylist(),
                                       clips.column("clip").to_pylist(), strict=True)]
    return clips.filter(pa.array(mask, type=pa.bool_()))


@task(name="faces-chunk", cache_policy=NO_CACHE)
def align_chunk(clips: pa.Table, out_dir: Path, params: FacesParams) -> pa.Table:
    """Align one chunk of clips (their npz files written) and return its faces-table rows."""
    return faces_stage.align_table(clips, out_dir, params)


@task(name="flow-chunk", cache_policy=NO_CACHE)
def flow_chunk(clips: pa.Table, faces: pa.Table, faces_dir: Path, out_dir: Path,
               params: FlowParams) -> pa.Table:
    """Flow of one chunk of aligned clips (their npz files written); its flow-table rows."""
    return flow_stage.compute_flow(clips, faces, faces_dir, out_dir, params)


@flow(name="mer-faces")
def align_clips(clips: pa.Table, out_dir: Path, params: FacesParams) -> pa.Table:
    """Align every clip, ``params.clips_per_task`` per task; the faces table in input order."""
    futures = align_chunk.map(chunks(clips, params.clips_per_task), unmapped(out_dir),
                              unmapped(params))
    return _concat([future.result() for future in futures], faces_stage.FACES_SCHEMA)


@flow(name="mer-flow")
def flow_clips(clips: pa.Table, faces: pa.Table, faces_dir: Path, out_dir: Path,
               params: FlowParams) -> pa.Table:
    """Flow of every aligned clip, ``batches_per_task`` whole batches per task; the flow table."""
    size = params.batch_size * params.batches_per_task
    futures = flow_chunk.map(chunks(aligned_clips(clips, faces), size), unmapped(faces),
                             unmapped(faces_dir), unmapped(out_dir), unmapped(params))
    return _concat([future.result() for future in futures], flow_stage.FLOW_SCHEMA)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()


def faces_main(argv: Sequence[str] | None = None) -> int:
    """`mer faces`: align all clips of the table and write the faces table."""
    args = faces_stage.parse_args(argv)
    params = load_params(args.params)
    run = align_clips.with_options(task_runner=task_runner(params))
    table = run(pq.read_table(args.clips), args.out_dir, params.faces)
    write_parquet(args.table, table)
    logger.info("%d clips aligned -> %s", table.num_rows, args.out_dir)
    return 0


def flow_main(argv: Sequence[str] | None = None) -> int:
    """`mer flow`: compute and write the flow of every aligned clip."""
    args = flow_stage.parse_args(argv)
    params = load_params(args.params)
    run = flow_clips.with_options(task_runner=task_runner(params))
    table = run(pq.read_table(args.clips), pq.read_table(args.faces), args.faces_dir,
                args.out_dir, params.flow)
    write_parquet(args.table, table)
    logger.info("flow of %d clips -> %s", table.num_rows, args.out_dir)
    return 0
