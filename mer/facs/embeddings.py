"""Every clip's action units in words (FACS) and their sentence embeddings, as a table and as
training inputs.

The table (:func:`au_text_schema`) has one row per clip: ``dataset, subject, clip,
action_units`` (as written), ``description`` (:func:`mer.facs.describe`; null where no AU is
coded: SMIC, ``"?"``), ``description_mirrored`` (the left-right mirrored face's), ``embedding``
and ``embedding_mirrored`` (float32 unit vectors, null where no description) and ``encoder``.
:func:`au_text_inputs` turns it into the ``au_text`` and ``au_text_mirrored`` inputs of a
FeatureSet, and the clips' AU sets (:mod:`mer.facs.au_sets`, sides explicit) into ``au_set`` and
``au_set_mirrored``. The encoder itself is :mod:`mer.facs.text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from mer.data.errors import DataError
from mer.facs.au_sets import AU_SET_COLUMNS, au_set, multi_hot
from mer.facs.codes import AUCodeError, describe, parse_au_code
from mer.facs.text import TextEncoder

#: Columns the stage needs from the clip table.
CLIP_COLUMNS: tuple[str, ...] = ("dataset", "subject", "clip", "action_units")
#: FeatureSet input names of the two embeddings (see ``mer.training.data.VECTOR_INPUTS``).
INPUT_KEYS: dict[str, str] = {"au_text": "embedding", "au_text_mirrored": "embedding_mirrored"}
#: FeatureSet input names of the AU sets (multi-hot) -> whether of the mirrored face.
SET_KEYS: dict[str, bool] = {"au_set": False, "au_set_mirrored": True}
#: An embedding whose norm is off 1 by more than this is rejected.
_NORM_TOLERANCE = 1e-3


def au_text_schema(dim: int) -> pa.Schema:
    """The au_text table's schema for ``dim``-dimensional embeddings."""
    vector = pa.list_(pa.float32(), dim)
    return pa.schema([
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("clip", pa.string(), nullable=False),
        pa.field("action_units", pa.string(), nullable=True),  # as written in the sheet
        pa.field("description", pa.string(), nullable=True),  # null: no AU coded
        pa.field("description_mirrored", pa.string(), nullable=True),
        pa.field("embedding", vector, nullable=True),  # unit vector; null with description
        pa.field("embedding_mirrored", vector, nullable=True),
        pa.field("encoder", pa.string(), nullable=False),
    ])


def describe_clips(clips: pa.Table, *, source: str = "clips") -> list[dict[str, Any]]:
    """Parse and describe every clip's action units (no embedding yet).

    Args:
        clips: a clip table (``mer.data.schema.CLIP_SCHEMA``; at least :data:`CLIP_COLUMNS`).
        source: what ``clips`` is, for error messages (its path).

    Returns:
        One dict per clip, in table order: the key columns, ``action_units``, ``description``
        and ``description_mirrored``.

    Raises:
        DataError: a column is missing, or an AU code does not parse (the clip, its sheet row and
            the term are named).
    """
    absent = [c for c in CLIP_COLUMNS if c not in clips.column_names]
    if absent:
        raise DataError(source, f"missing column(s) {absent}; expected the clip table "
                        "(mer.data.schema.CLIP_SCHEMA)")
    rows = []
    for clip in clips.to_pylist():
        try:
            code = parse_au_code(clip["action_units"])
        except AUCodeError as error:
            sheet = f" ({clip['source_file']} row {clip['source_row']})" \
                if clip.get("source_file") else ""
            raise DataError(f"{source} clip {clip['dataset']}/{clip['subject']}/{clip['clip']}"
                            f"{sheet}", f"{error}; fix the sheet or the parser's grammar "
                            "(mer.facs.codes)") from error
        rows.append({key: clip[key] for key in CLIP_COLUMNS}
                    | {"description": describe(code),
                       "description_mirrored": describe(code.mirrored() if code else None)})
    return rows


def au_text_table(clips: pa.Table, encoder: TextEncoder, *, source: str = "clips") -> pa.Table:
    """Describe every clip's AUs and embed each distinct description once.

    Args:
        clips: the clip table.
        encoder: the sentence encoder (:func:`mer.facs.text.load_encoder`).
        source: what ``clips`` is, for error messages.

    Returns:
        The au_text table (:func:`au_text_schema` of ``encoder.dim``), one row per clip.

    Raises:
        DataError: see :func:`describe_clips`.
        ValueError: the encoder returned the wrong shape or non-unit vectors.
    """
    rows = describe_clips(clips, source=source)
    texts = sorted({r[k] for r in rows for k in ("description", "description_mirrored")
                    if r[k] is not None})
    vectors = encoder.encode(texts)
    if vectors.shape != (len(texts), encoder.dim) or not np.isfinite(vectors).all():
        raise ValueError(f"encoder {encoder.name!r} returned {vectors.shape} (finite: "
                         f"{bool(np.isfinite(vectors).all())}); expected "
                         f"({len(texts)}, {encoder.dim}) finite rows")
    norms = np.linalg.norm(vectors, axis=1)
    if len(norms) and np.abs(norms - 1.0).max() > _NORM_TOLERANCE:
        raise ValueError(f"encoder {encoder.name!r} returned vectors of norm {norms.min():.4f}.."
                         f"{norms.max():.4f}; expected unit vectors")
    by_text = dict(zip(texts, vectors.astype(np.float32), strict=True))
    for row in rows:
        for text_key, vector_key in (("description", "embedding"),
                                     ("description_mirrored", "embedding_mirrored")):
            text = row[text_key]
            row[vector_key] = None if text is None else by_text[text].tolist()
        row["encoder"] = encoder.name
    return pa.Table.from_pylist(rows, schema=au_text_schema(encoder.dim))


def au_text_inputs(table: pa.Table, datasets: Sequence[str], subjects: Sequence[str],
                   clips: Sequence[str], *, source: str = "au_text") -> dict[str, torch.Tensor]:
    """Return the FeatureSet inputs ``au_text``, ``au_set`` and their mirrored forms of the clips.

    Args:
        table: an au_text table (this stage's output).
        datasets: ``(N,)`` dataset of each clip, in FeatureSet order.
        subjects: ``(N,)`` subject of each clip (as in the clip table).
        clips: ``(N,)`` clip id of each clip.
        source: what ``table`` is (its path), for error messages.

    Returns:
        ``{"au_text": (N, D), "au_text_mirrored": (N, D)}`` float32 embeddings and ``{"au_set":
        (N, V), "au_set_mirrored": (N, V)}`` float32 0/1 AU sets (columns
        :data:`mer.facs.au_sets.AU_SET_COLUMNS`); all-zero rows for clips without a coded AU
        (the ``contrastive`` trainer leaves them out of its term).

    Raises:
        DataError: a clip has no row in ``table``, the table mixes encoders, or a clip's
            ``action_units`` does not parse.
    """
    encoders = sorted(set(table.column("encoder").to_pylist()))
    if len(encoders) > 1:
        raise DataError(source, f"embeddings from several encoders {encoders}; re-run mer au-text")
    dim = table.schema.field("embedding").type.list_size
    index = {(r["dataset"], r["subject"], r["clip"]): i
             for i, r in enumerate(table.select(["dataset", "subject", "clip"]).to_pylist())}
    keys = list(zip(datasets, subjects, clips, strict=True))
    absent = [f"{d}/{s}/{c}" for d, s, c in keys if (d, s, c) not in index]
    if absent:
        raise DataError(source, f"{len(absent)} clip(s) have no row, e.g. {absent[:3]}; re-run "
                        "mer au-text on the clip table the flow stage was built from")
    out = {}
    for input_key, column in INPUT_KEYS.items():
        values = table.column(column).to_pylist()
        array = np.zeros((len(keys), dim), dtype=np.float32)
        for row, key in enumerate(keys):
            vector = values[index[key]]
            if vector is not None:
                array[row] = vector
        out[input_key] = torch.from_numpy(array)
    return out | _set_inputs(table.column("action_units").to_pylist(),
                             [index[key] for key in keys], keys, source)


def _set_inputs(codes: list[str | None], rows: list[int], keys: list[tuple[str, str, str]],
                source: str) -> dict[str, torch.Tensor]:
    """The multi-hot AU sets ``(N, V)`` of the table rows ``rows`` (clip ``keys``), as written
    and mirrored."""
    out = {}
    for input_key, mirror in SET_KEYS.items():
        vectors = []
        for row, (dataset, subject, clip) in zip(rows, keys, strict=True):
            try:
                code = parse_au_code(codes[row])
            except AUCodeError as error:
                raise DataError(f"{source} clip {dataset}/{subject}/{clip}",
                                f"{error}; re-run mer au-text") from error
            if code is not None and mirror:
                code = code.mirrored()
            vectors.append(multi_hot(au_set(code)))
        out[input_key] = torch.from_numpy(
            np.stack(vectors) if vectors else np.zeros((0, len(AU_SET_COLUMNS)), np.float32))
    return out
