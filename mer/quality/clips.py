"""The gate on the canonical clip table (after ingest, before faces)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from mer.data.schema import LABELS
from mer.quality.gate import Check, GateReport, run_gate


def clip_checks(min_labelled_clips_per_subject: int = 1) -> list[Check]:
    """The rules every clip table must keep, in the order they are reported."""
    pair = {"or_equal": True, "ignore_row_if": "either_value_is_missing"}
    return [
        Check("the corpus has clips", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        Check("(dataset, clip) is unique", "ExpectCompoundColumnsToBeUnique",
              {"column_list": ["dataset", "clip"]}),
        Check("onset <= apex", "ExpectColumnPairValuesAToBeGreaterThanB",
              {"column_A": "apex", "column_B": "onset", **pair}),
        Check("apex <= offset", "ExpectColumnPairValuesAToBeGreaterThanB",
              {"column_A": "offset", "column_B": "apex", **pair}),
        Check("onset < offset", "ExpectColumnPairValuesAToBeGreaterThanB",
              {"column_A": "offset", "column_B": "onset", "ignore_row_if": "either_value_is_missing"}),
        Check("label is one of " + "/".join(LABELS) + " or empty", "ExpectColumnValuesToBeInSet",
              {"column": "label", "value_set": list(LABELS)}),
        Check("fps > 0", "ExpectColumnValuesToBeBetween",
              {"column": "fps", "min_value": 0, "strict_min": True}),
        Check("a clip has at least 2 frames", "ExpectColumnValuesToBeBetween",
              {"column": "n_frames", "min_value": 2}),
        Check("frame numbers ascend", "ExpectColumnValuesToBeInSet",
              {"column": "frames_ascend", "value_set": [True]}),
        Check("no frame path leaves the corpus root", "ExpectColumnValuesToBeInSet",
              {"column": "frames_inside_root", "value_set": [True]}),
        Check("every frame file exists", "ExpectColumnValuesToBeInSet",
              {"column": "frames_exist", "value_set": [True]}),
        Check(f"every subject has >= {min_labelled_clips_per_subject} labelled clips",
              "ExpectColumnValuesToBeBetween",
              {"column": "subject_labelled_clips", "min_value": min_labelled_clips_per_subject}),
    ]


def clip_frame(table: pa.Table) -> pd.DataFrame:
    """One row per clip with the plain columns the checks read (file checks done here).

    Adds ``n_frames``, ``frames_ascend``, ``frames_exist``, ``frames_inside_root`` and
    ``subject_labelled_clips`` (labelled clips of the same dataset and subject).
    """
    rows = table.select(["dataset", "subject", "clip", "root", "frames", "frame_numbers", "onset",
                         "apex", "offset", "fps", "label", "source_file", "source_row"]).to_pylist()
    frame = pd.DataFrame(rows, columns=[
        "dataset", "subject", "clip", "root", "frames", "frame_numbers", "onset", "apex", "offset",
        "fps", "label", "source_file", "source_row"])
    frame["n_frames"] = [len(frames) for frames in frame["frames"]]
    frame["frames_ascend"] = [_strictly_increasing(n) for n in frame["frame_numbers"]]
    inside = [_inside_root(root, frames) for root, frames in zip(frame["root"], frame["frames"])]
    frame["frames_inside_root"] = inside
    frame["frames_exist"] = [
        ok and all((Path(root) / name).is_file() for name in frames)
        for ok, root, frames in zip(inside, frame["root"], frame["frames"])
    ]
    labelled = frame["label"].notna().groupby([frame["dataset"], frame["subject"]]).transform("sum")
    frame["subject_labelled_clips"] = labelled.astype(int)
    return frame.drop(columns=["frames", "frame_numbers"])


def validate_clips(table: pa.Table, min_labelled_clips_per_subject: int = 1) -> GateReport:
    """Run the clip gate on a canonical clip table."""
    return run_gate("clips", clip_frame(table), clip_checks(min_labelled_clips_per_subject))


def _strictly_increasing(numbers: list[int]) -> bool:
    return all(a < b for a, b in zip(numbers, numbers[1:]))


def _inside_root(root: str, frames: list[str]) -> bool:
    """True when every frame path, symlinks resolved, stays under the resolved root."""
    base = Path(root).resolve()
    return all((base / name).resolve().is_relative_to(base) for name in frames)
