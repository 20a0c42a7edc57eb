"""`mer flow`: optical flow of every aligned clip of a corpus as Prefect tasks (flow `mer-flow`).

The aligned clips are cut into chunks of ``runtime.flow_batches_per_task`` whole batches of
``flow.batch_size``, each a task calling :func:`mer.stages.flow.compute_flow`, on
:func:`flows.runners.task_runner` (one chunk at a time locally, or on the Dask cluster
``runtime.dask_address`` names). The batches are those of one local pass, so are the table and
the arrays, in input order. The DVC stage stays an ordinary command.
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

from flows.runners import chunks, concat_tables, task_runner
from mer.config import FlowParams, load_params
from mer.data.atomic import write_parquet
from mer.stages import flow as flow_stage

logger = logging.getLogger(__name__)


def aligned_clips(clips: pa.Table, faces: pa.Table) -> pa.Table:
    """The rows of the clip table whose clip the faces table has aligned, in clip-table order."""
    aligned = faces.filter(pc.equal(faces.column("status"), "aligned"))
    keys = set(zip(aligned.column("dataset").to_pylist(), aligned.column("clip").to_pylist(),
                   strict=True))
    mask = [key in keys for key in zip(clips.column("dataset").to_pylist(),
                                       clips.column("clip").to_pylist(), strict=True)]
    return clips.filter(pa.array(mask, type=pa.bool_()))


@task(name="flow-chunk", cache_policy=NO_CACHE)
def flow_chunk(clips: pa.Table, faces: pa.Table, faces_dir: Path, out_dir: Path,
               params: FlowParams, sequence_dir: Path | None = None) -> pa.Table:
    """Flow of one chunk of aligned clips (their npz files written, and their sequences under
    ``sequence_dir``); its flow-table rows."""
    return flow_stage.compute_flow(clips, faces, faces_dir, out_dir, params, sequence_dir)


@flow(name="mer-flow")
def flow_clips(clips: pa.Table, faces: pa.Table, faces_dir: Path, out_dir: Path,
               params: FlowParams, batches_per_task: int,
               sequence_dir: Path | None = None) -> pa.Table:
    """Flow of every aligned clip (and its sequence under ``sequence_dir``, see
    ``flow.sequence_frames``), ``batches_per_task`` whole batches per task; the flow table."""
    size = params.batch_size * batches_per_task
    futures = flow_chunk.map(chunks(aligned_clips(clips, faces), size), unmapped(faces),
                             unmapped(faces_dir), unmapped(out_dir), unmapped(params),
                             unmapped(sequence_dir))
    return concat_tables([future.result() for future in futures], flow_stage.FLOW_SCHEMA)


def main(argv: Sequence[str] | None = None) -> int:
    """`mer flow`: compute and write the flow of every aligned clip."""
    args = flow_stage.parse_args(argv)
    params = load_params(args.params)
    flow = params.flow if args.sequences == "true" \
        else params.flow.model_copy(update={"sequence_frames": 0})
    if args.sequence_dir is not None:
        args.sequence_dir.mkdir(parents=True, exist_ok=True)  # DVC's output, even when empty
    run = flow_clips.with_options(task_runner=task_runner(params))
    table = run(pq.read_table(args.clips), pq.read_table(args.faces), args.faces_dir,
                args.out_dir, flow, params.runtime.flow_batches_per_task, args.sequence_dir)
    write_parquet(args.table, table)
    logger.info("flow of %d clips -> %s", table.num_rows, args.out_dir)
    return 0
