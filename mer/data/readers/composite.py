"""MEGC2019 composite: the official ground-truth file decides membership and labels.

``combined_3class_gt.csv`` has no header; each row is ``dataset,subject,clip,label`` with label
0 negative, 1 positive, 2 surprise. Subjects are spelled differently from the disks (SMIC ``s01``
and clip ``s01_ne_01`` for ``s1``/``s1_ne_01``; SAMM ``6`` for ``006``; CASME II clips are
``EP02_01f`` in the file and ``sub01_EP02_01f`` as clip ids); they are mapped onto the disk
spelling and the readers' clip ids before matching.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from mer.data.errors import DataError
from mer.data.readers import casme2, samm, smic
from mer.data.readers.common import (ClipRows, Dropped, ReaderPolicy, ReadResult, safe_name, shown,
                                     where)
from mer.data.schema import CLIP_SCHEMA, LABELS

#: The corpora of the composite, as named in the ground-truth file.
DATASETS: Final[tuple[str, ...]] = ("casme2", "samm", "smic")


@dataclass(frozen=True)
class GroundTruth:
    """One row of the composite file, with subject and clip in the disk spelling."""

    dataset: str
    subject: str
    clip: str
    label: str
    row: int


def read_ground_truth(gt_path: str | Path) -> list[GroundTruth]:
    """Parse the composite ground-truth file.

    Raises:
        DataError: naming the file and row, for a row without four fields, an unknown dataset,
            a label other than 0, 1, 2, a subject or clip that cannot be mapped, a duplicate
            clip, or a file with no rows.
    """
    path = Path(gt_path)
    if not path.is_file():
        raise DataError(path, "composite ground-truth file not found")
    truth: list[GroundTruth] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for row, cells in enumerate(csv.reader(handle), start=1):
                if not any(cell.strip() for cell in cells):
                    continue
                item = _parse_row([cell.strip() for cell in cells], where(path, row), row)
                key = (item.dataset, item.clip)
                if key in seen:
                    raise DataError(where(path, row),
                                    f"duplicate clip {item.clip} (row {seen[key]})")
                seen[key] = row
                truth.append(item)
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(path, f"not a readable UTF-8 CSV file ({error})") from error
    if not truth:
        raise DataError(path, "composite ground-truth file has no rows")
    return truth


def _parse_row(cells: list[str], at: str, row: int) -> GroundTruth:
    """Turn one ground-truth row into a :class:`GroundTruth` in disk spelling."""
    if len(cells) != 4:
        raise DataError(at, f"expected 4 fields dataset,subject,clip,label, found {len(cells)}")
    dataset, subject, clip, code = cells
    if dataset not in DATASETS:
        raise DataError(at, f"unknown dataset {shown(dataset)} "
                            f"(expected one of {', '.join(DATASETS)})")
    if code not in ("0", "1", "2"):
        raise DataError(at, f"label {shown(code)} is not 0, 1 or 2")
    clip = safe_name(clip, at, "clip")
    if dataset == "smic":
        subject, clip = smic.subject_folder(subject, at), smic.clip_folder_name(clip, at)
    elif dataset == "samm":
        subject = samm.subject_folder(subject, at)
    else:
        subject = casme2.subject_folder(subject, at)
        clip = casme2.clip_id(subject, clip)
    return GroundTruth(dataset, subject, clip, LABELS[int(code)], row)


def smic_annotations(gt_path: str | Path) -> pa.Table:
    """Return the SMIC clips named by the composite file, as a table before frames are attached.

    Use it where the SMIC folders are not at hand (SMIC has no sheet). The emotion is the label,
    and onset and offset are 0 until :func:`~mer.data.readers.attach.attach_frames` sets them
    from the clip folder's first and last frame.
    """
    rows = ClipRows("smic", gt_path, ReaderPolicy(), smic.FPS, smic.KNOWN_EMOTIONS)
    for item in read_ground_truth(gt_path):
        if item.dataset == "smic":
            rows.add(item.row, subject=item.subject, clip=item.clip, onset=0, apex=None,
                     offset=0, emotion=item.label, apex_expected=False)
    return rows.result().table


def apply_composite(corpora: Mapping[str, pa.Table | ReadResult], gt_path: str | Path,
                    policy: ReaderPolicy = ReaderPolicy()) -> ReadResult:
    """Keep only the composite clips, in file order, with the file's labels.

    Args:
        corpora: dataset name -> its clip table, or its :class:`ReadResult` (whose ``dropped``
            clips then explain composite clips missing from the table).
        gt_path: the composite ground-truth file.
        policy: a composite clip that its reader dropped as a known defect is listed in
            ``dropped`` (``"drop"``) or raises (``"fail"``).

    Raises:
        DataError: a dataset of the file is not in ``corpora``; a composite clip is in neither
            the table nor the reader's drops of a corpus that was read; a clip's subject differs.
    """
    truth = read_ground_truth(gt_path)
    missing = sorted({item.dataset for item in truth} - set(corpora))
    if missing:
        raise DataError(gt_path, f"corpus {', '.join(missing)} is in the composite file but was "
                                 "not read; read it first")
    clips, reader_drops = _index(corpora)
    rows: list[dict[str, Any]] = []
    dropped: list[Dropped] = []
    for item in truth:
        at = where(gt_path, item.row)
        clip = clips.get((item.dataset, item.clip))
        if clip is None:
            dropped.append(_explain_missing(item, reader_drops, at, policy, str(gt_path)))
            continue
        if clip["subject"] != item.subject:
            raise DataError(at, f"{item.dataset} clip {item.clip} belongs to subject "
                                f"{clip['subject']}, the file says {item.subject}")
        rows.append({**clip, "label": item.label})
    return ReadResult(pa.Table.from_pylist(rows, schema=CLIP_SCHEMA), dropped)


def _index(corpora: Mapping[str, pa.Table | ReadResult]
           ) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], Dropped]]:
    """Index the clips and the reader drops of every corpus by ``(dataset, clip)``."""
    clips: dict[tuple[str, str], dict[str, Any]] = {}
    drops: dict[tuple[str, str], Dropped] = {}
    for name, corpus in corpora.items():
        table = corpus.table if isinstance(corpus, ReadResult) else corpus
        for item in corpus.dropped if isinstance(corpus, ReadResult) else []:
            drops[(item.dataset, item.clip)] = item
        for row in table.to_pylist():
            if row["dataset"] != name:
                raise DataError(f"{name} table", f"holds a {row['dataset']} clip ({row['clip']})")
            clips[(name, row["clip"])] = row
    return clips, drops


def _explain_missing(item: GroundTruth, reader_drops: Mapping[tuple[str, str], Dropped],
                     at: str, policy: ReaderPolicy, source: str) -> Dropped:
    """Return the drop of a composite clip its reader dropped, or raise when it is unknown."""
    prior = reader_drops.get((item.dataset, item.clip))
    if prior is None:
        raise DataError(at, f"{item.dataset} clip {item.clip} is not in the {item.dataset} "
                            "table; check that corpus's sheet and folders")
    if policy.on_defect == "fail":
        raise DataError(at, f"{item.dataset} clip {item.clip} was dropped by its reader: "
                            f"{prior.reason} (policy on_defect='fail')")
    return Dropped(item.dataset, item.clip, source, item.row,
                   f"composite clip dropped by its reader: {prior.reason}")
