"""The clip-table gate: each planted defect fails its own rule and names the clip and file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mer.data.schema import CLIP_SCHEMA
from mer.quality import GateError
from mer.quality.clips import validate_clips


def _row(root: Path, clip: str, **changes: object) -> dict[str, object]:
    numbers = [10, 11, 12, 13]
    folder = root / "sub01" / clip
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        (folder / f"img{number}.jpg").write_bytes(b"x")
    row: dict[str, object] = {
        "dataset": "casme2", "subject": "sub01", "clip": clip, "root": str(root),
        "frames": [f"sub01/{clip}/img{n}.jpg" for n in numbers], "frame_numbers": numbers,
        "onset": 10, "apex": 11, "offset": 13, "fps": 200.0, "action_units": "4",
        "emotion": "disgust", "label": "negative", "source_file": "sheet.xlsx", "source_row": 2,
    }
    row.update(changes)
    return row


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)


@pytest.mark.slow
def test_clean_table_passes(tmp_path: Path) -> None:
    report = validate_clips(_table([_row(tmp_path, "EP01"), _row(tmp_path, "EP02", apex=None)]))
    assert report.success, report.to_json()
    assert report.n_rows == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"apex": 9}, "onset <= apex"),
        ({"apex": 14}, "apex <= offset"),
        ({"label": "angry"}, "label is one of"),
        ({"frame_numbers": [10, 12, 11, 13]}, "frame numbers ascend"),
        ({"frames": ["sub01/EP09/img10.jpg", "sub01/EP09/img99.jpg"], "frame_numbers": [10, 99]},
         "every frame file exists"),
        ({"frame_numbers": [10, 11, 12]}, "one frame number per frame"),
        ({"fps": 0.0}, "fps > 0"),
        ({"frames": ["../outside.jpg", "sub01/EP09/img10.jpg"], "frame_numbers": [10, 11]},
         "no frame path leaves"),
    ],
)
def test_defect_names_clip_rule_and_file(
    tmp_path: Path, changes: dict[str, object], rule: str
) -> None:
    (tmp_path.parent / "outside.jpg").write_bytes(b"x")  # exists, but outside the root
    table = _table([_row(tmp_path, "EP01"), _row(tmp_path, "EP09", source_row=7, **changes)])
    report = validate_clips(table)
    assert not report.success
    failed = [check for check in report.checks if not check.success]
    assert [check.rule for check in failed][0].startswith(rule)
    assert failed[0].failed[0]["clip"] == "EP09"
    message = str(GateError(report))
    assert "sheet.xlsx row 7 (clip casme2/EP09)" in message and rule in message


@pytest.mark.slow
def test_duplicate_clip_and_unlabelled_subject(tmp_path: Path) -> None:
    rows = [_row(tmp_path, "EP01"), _row(tmp_path, "EP01"),
            _row(tmp_path, "EP03", subject="sub02", label=None)]
    report = validate_clips(_table(rows))
    failed = {check.rule: check for check in report.checks if not check.success}
    assert failed["(dataset, clip) is unique"].n_failed == 2
    assert failed["every subject has >= 1 labelled clips"].failed[0]["clip"] == "EP03"


@pytest.mark.slow
def test_empty_table_fails(tmp_path: Path) -> None:
    report = validate_clips(CLIP_SCHEMA.empty_table())
    assert not report.success
    assert "gate 'clips'" in str(GateError(report))


@pytest.mark.slow
def test_missing_frame_is_named_with_its_path(tmp_path: Path) -> None:
    frames = ["sub01/EP09/img10.jpg", "sub01/EP09/img11.jpg", "sub01/EP09/img12.jpg",
              "sub01/EP09/img77.jpg"]
    report = validate_clips(_table([_row(tmp_path, "EP09", source_row=7, frames=frames)]))
    failed = [check for check in report.checks if not check.success]
    assert [(check.rule, check.n_failed) for check in failed] == [("every frame file exists", 1)]
    assert failed[0].failed == [{"dataset": "casme2", "clip": "EP09", "source_file": "sheet.xlsx",
                                 "source_row": 7, "frame": "sub01/EP09/img77.jpg"}]
    assert str(GateError(report)).startswith(
        "sheet.xlsx row 7 (clip casme2/EP09) frame sub01/EP09/img77.jpg: ")


@pytest.mark.slow
def test_threshold_comes_from_the_params_and_names_itself(tmp_path: Path) -> None:
    rows = [_row(tmp_path, "EP01"), _row(tmp_path, "EP02", label=None)]
    passed = validate_clips(_table(rows), min_labelled_clips_per_subject=1)
    failed = validate_clips(_table(rows), min_labelled_clips_per_subject=2)
    assert passed.success and not failed.success
    check = next(check for check in failed.checks if not check.success)
    assert check.rule == "every subject has >= 2 labelled clips"
    assert check.expectation == "expect_column_values_to_be_between" and check.n_failed == 2
