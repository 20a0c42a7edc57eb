"""Stage `flow`: TV-L1 optical flow onset -> apex (and strain) for every aligned clip.

``mer flow --clips data/interim/clips.parquet --faces data/interim/faces.parquet
--faces-dir data/interim/faces --out-dir data/processed/flow --table data/processed/flow.parquet
--sequence-dir data/processed/sequence``
writes one ``<dataset>/<subject>/<clip>.npz`` per clip (``u``, ``v``, ``strain`` (H, W) float32
pixels; ``onset``, ``apex`` (H, W) uint8 grey; with ``flow.apex_to_offset`` also ``u_offset``,
``v_offset``) and a table with one row per clip. With ``flow.sequence_frames`` K > 0 it also
writes the clip's sequence, ``<sequence-dir>/<dataset>/<subject>/<clip>.npz``: ``frames``
(K, S, S, 3) uint8 RGB aligned crops at frames evenly spaced from onset to offset (S =
``flow.sequence_size``), ``flows`` (K - 1, 2, S, S) float32 the TV-L1 flow (x, y, pixels of the
S-pixel crop) to each later sample from the onset (or from the sample before:
``flow.sequence_reference``), solved on the aligned frames and resized, ``frame_numbers`` (K,)
int32. Clips without an
annotated apex (SMIC, or a sheet defect cleared by ``estimate_apex``) get a spotted apex, recorded
as estimated.
The command runs :func:`compute_flow` on chunks of clips as Prefect tasks (``flows/optical_flow.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from mer.config import FlowParams, TVL1Params
from mer.data.atomic import atomic_path
from mer.flow.features import ClipFlow, ClipInput, clip_flows, to_grey
from mer.flow.sequence import clip_positions, sequence_crops, sequence_flows

FLOW_SCHEMA = pa.schema([
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("subject", pa.string(), nullable=False),
    pa.field("clip", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=False),  # relative to the flow folder
    pa.field("label", pa.string(), nullable=True),
    pa.field("onset_frame", pa.int32(), nullable=False),
    pa.field("apex_frame", pa.int32(), nullable=False),
    pa.field("apex_estimated", pa.bool_(), nullable=False),
    pa.field("mean_magnitude", pa.float32(), nullable=False),  # px
    pa.field("max_magnitude", pa.float32(), nullable=False),  # px
    pa.field("finite", pa.bool_(), nullable=False),
    pa.field("min_frame_std", pa.float32(), nullable=False),  # grey levels, onset and apex
    pa.field("onset_apex_difference", pa.float32(), nullable=False),  # mean |apex - onset|
])


def clip_input(clip: dict[str, Any], faces_dir: Path, face: dict[str, Any],
               apex_spotter: str) -> ClipInput:
    """Load one aligned clip and locate its onset and (annotated) apex among its frames."""
    with np.load(faces_dir / face["path"]) as arrays:
        frames, numbers = arrays["frames"], arrays["frame_numbers"].tolist()
    onset = numbers.index(clip["onset"])
    apex = numbers.index(clip["apex"]) if clip["apex"] in numbers else None
    name = f"{clip['dataset']}/{clip['subject']}/{clip['clip']}"
    return ClipInput(frames, onset, apex if apex != onset else None, name, apex_spotter)


def flow_row(clip: dict[str, Any], item: ClipInput, result: ClipFlow) -> dict[str, Any]:
    """The flow-table row of one clip."""
    grey = to_grey(item.frames, item.clip_id).astype(np.float32)
    onset, apex = grey[result.onset_index], grey[result.apex_index]
    numbers = list(clip["frame_numbers"])
    return {
        "dataset": clip["dataset"], "subject": clip["subject"], "clip": clip["clip"],
        "path": _relative(clip).as_posix(), "label": clip["label"],
        "onset_frame": numbers[result.onset_index], "apex_frame": numbers[result.apex_index],
        "apex_estimated": result.apex_estimated,
        "mean_magnitude": float(np.nanmean(result.magnitude)),
        "max_magnitude": float(np.nanmax(result.magnitude)),
        "finite": bool(np.isfinite(result.u).all() and np.isfinite(result.v).all()
                       and np.isfinite(result.strain).all()),
        "min_frame_std": float(min(onset.std(), apex.std())),
        "onset_apex_difference": float(np.abs(apex - onset).mean()),
    }


def _relative(clip: dict[str, Any]) -> Path:
    return Path(clip["dataset"]) / clip["subject"] / f"{clip['clip']}.npz"


def save_flow(path: Path, item: ClipInput, result: ClipFlow, offset: ClipFlow | None) -> None:
    """Write one clip's flow arrays atomically (see the module docstring for the keys)."""
    grey = to_grey(item.frames, item.clip_id)
    arrays = {"u": result.u, "v": result.v, "strain": result.strain,
              "onset": grey[result.onset_index], "apex": grey[result.apex_index]}
    if offset is not None:
        arrays |= {"u_offset": offset.u, "v_offset": offset.v}
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def save_sequence(path: Path, crops: np.ndarray, flows: np.ndarray,
                  frame_numbers: Sequence[int]) -> None:
    """Write one clip's sequence atomically (keys in the module docstring)."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, frames=crops, flows=flows,
                            frame_numbers=np.asarray(frame_numbers, dtype=np.int32))


def write_sequences(chunk: list[dict[str, Any]], items: list[ClipInput], results: list[ClipFlow],
                    sequence_dir: Path, params: FlowParams) -> None:
    """Sample, crop, solve and write the sequences of one chunk of clips (``chunk``: their
    clip-table rows; ``items``: their aligned frames and onsets, :func:`clip_input`; ``results``:
    their onset -> apex flows, whose apex ``flow.sequence_sampling: apex`` samples)."""
    positions = []
    for clip, item, result in zip(chunk, items, results, strict=True):
        numbers = list(clip["frame_numbers"])
        offset = numbers.index(clip["offset"]) if clip.get("offset") in numbers \
            else len(numbers) - 1  # no offset among the frames: the clip's last frame
        positions.append(clip_positions(item.onset_index, result.apex_index, offset,
                                        params.sequence_frames, params.sequence_sampling))
    crops = [sequence_crops(item.frames, pos, params.sequence_size)
             for item, pos in zip(items, positions, strict=True)]
    flows = sequence_flows([item.frames for item in items], positions, params.solver(),
                           params.batch_size, size=params.sequence_size,
                           reference=params.sequence_reference)
    for clip, crop, flow, pos in zip(chunk, crops, flows, positions, strict=True):
        numbers = list(clip["frame_numbers"])
        save_sequence(sequence_dir / _relative(clip), crop, flow, [numbers[i] for i in pos])


def compute_flow(clips: pa.Table, faces: pa.Table, faces_dir: Path, out_dir: Path,
                 params: FlowParams, sequence_dir: Path | None = None) -> pa.Table:
    """Flow for every aligned clip, ``params.batch_size`` clips at a time; return the table.

    With ``params.sequence_frames`` > 0 the clips' sequences are written under ``sequence_dir``
    too (it must then be given).

    Raises:
        ValueError: sequences asked for without a ``sequence_dir``.
    """
    if params.sequence_frames and sequence_dir is None:
        raise ValueError(f"flow.sequence_frames is {params.sequence_frames}: the flow stage "
                         "needs --sequence-dir (or set it to 0)")
    aligned = {(f["dataset"], f["clip"]): f for f in faces.to_pylist() if f["status"] == "aligned"}
    todo = [c for c in clips.to_pylist() if (c["dataset"], c["clip"]) in aligned]
    solver = params.solver()
    rows = []
    with tqdm(total=len(todo), desc="flow", unit="clip", mininterval=2) as progress:
        for start in range(0, len(todo), params.batch_size):
            chunk = todo[start:start + params.batch_size]
            items = [clip_input(c, faces_dir, aligned[(c["dataset"], c["clip"])],
                                params.apex_spotter) for c in chunk]
            results = clip_flows(items, solver, batch_size=params.batch_size)
            offsets = _offset_flows(items, results, solver) if params.apex_to_offset else None
            for k, (clip, item, result) in enumerate(zip(chunk, items, results, strict=True)):
                save_flow(out_dir / _relative(clip), item, result,
                          offsets[k] if offsets is not None else None)
                rows.append(flow_row(clip, item, result))
            if params.sequence_frames and sequence_dir is not None:
                write_sequences(chunk, items, results, sequence_dir, params)
            progress.update(len(chunk))
    return pa.Table.from_pylist(rows, schema=FLOW_SCHEMA)


def _offset_flows(items: list[ClipInput], results: list[ClipFlow],
                  solver: TVL1Params) -> list[ClipFlow | None]:
    """Apex -> last-frame flow where the apex is not the last frame."""
    pairs = [ClipInput(item.frames, r.apex_index, len(item.frames) - 1, item.clip_id)
             for item, r in zip(items, results, strict=True)]
    usable = [k for k, pair in enumerate(pairs) if pair.apex_index > pair.onset_index]
    solved = dict(zip(usable, clip_flows([pairs[k] for k in usable], solver), strict=True))
    return [solved.get(k) for k in range(len(items))]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the input tables and folders, the outputs and params.yaml."""
    parser = argparse.ArgumentParser(prog="mer flow", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, required=True, help="clip table (Parquet)")
    parser.add_argument("--faces", type=Path, required=True, help="faces table (Parquet)")
    parser.add_argument("--faces-dir", type=Path, required=True, help="aligned clips folder")
    parser.add_argument("--out-dir", type=Path, required=True, help="flow arrays folder")
    parser.add_argument("--table", type=Path, required=True, help="flow table (Parquet)")
    parser.add_argument("--sequence-dir", type=Path, default=None,
                        help="clip sequences folder (needed when flow.sequence_frames > 0)")
    parser.add_argument("--sequences", choices=("true", "false"), default="true",
                        help="write the clip sequences (false for a set no model reads them "
                             "from: the folder is left empty)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    return parser.parse_args(argv)

