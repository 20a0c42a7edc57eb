"""One test per export format, and the composite file read back by mer's own reader."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mer.data.errors import DataError
from mer.data.readers.composite import read_ground_truth
from mer.export import COMPOSITE_CSV, ExportClip, export_clips, flow_image


def _cv2_read(path: Path) -> np.ndarray:
    """The array ``cv2.imread`` returns for a colour PNG (B, G, R channel order)."""
    return np.asarray(Image.open(path).convert("RGB"))[..., ::-1]


def test_composite_file_reads_back_as_the_exported_clips(tmp_path: Path,
                                                         clips: list[ExportClip]) -> None:
    export_clips("npy", clips, tmp_path / "out")
    text = (tmp_path / "out" / COMPOSITE_CSV).read_bytes()
    assert text.startswith(b"casme2,sub01,EP02_01f,1\r\n")
    assert b"smic,s01,s01_ne_01,0\r\n" in text and b"samm,6,006_1_2,0\r\n" in text
    truth = read_ground_truth(tmp_path / "out" / COMPOSITE_CSV)
    assert [(t.dataset, t.subject, t.clip, t.label) for t in truth] == [
        (c.dataset, c.subject, c.clip, c.label) for c in clips]


def test_faces_writes_every_aligned_frame(tmp_path: Path, clips: list[ExportClip]) -> None:
    assert export_clips("faces", clips, tmp_path / "out") == len(clips)
    folder = tmp_path / "out" / "smic" / "s3" / "s3_sur_02"
    assert sorted(p.name for p in folder.iterdir()) == [f"img{n}.png" for n in (10, 11, 12, 13)]
    assert clips[3].frames is not None
    assert np.array_equal(np.asarray(Image.open(folder / "img12.png")), clips[3].frames[2])


def test_npy_writes_u_v_strain_float32(tmp_path: Path, clips: list[ExportClip]) -> None:
    export_clips("npy", clips, tmp_path / "out")
    folder = tmp_path / "out" / "samm" / "007" / "007_6_1"
    for key in ("u", "v", "strain"):
        array = np.load(folder / f"{key}.npy")
        assert array.dtype == np.float32
        assert np.array_equal(array, getattr(clips[5], key))


def test_ststnet_arranges_28x28_images_leave_one_subject_out(tmp_path: Path,
                                                            clips: list[ExportClip]) -> None:
    export_clips("ststnet", clips, tmp_path / "out")
    root = tmp_path / "out" / "norm_u_v_os"
    assert sorted(p.name for p in root.iterdir()) == ["006", "007", "s01", "s03", "sub01",
                                                      "sub02"]
    test = sorted((root / "s01" / "u_test").rglob("*.png"))
    train = sorted((root / "s01" / "u_train").rglob("*.png"))
    assert [p.relative_to(root / "s01" / "u_test").as_posix() for p in test] == [
        "0/s01_s01_ne_01.png"]
    assert len(train) == len(clips) - 1
    assert not any(p.name.startswith("s01_") for p in train)
    image = _cv2_read(root / "sub02" / "u_train" / "0" / "s01_s01_ne_01.png")
    assert np.array_equal(image, flow_image(clips[2].u, clips[2].v, clips[2].strain))


def test_htnet_writes_its_csv_apex_faces_and_spaced_flow_images(
        tmp_path: Path, clips: list[ExportClip]) -> None:
    export_clips("htnet", clips, tmp_path / "out")
    out = tmp_path / "out"
    with (out / "combined_3_class2_for_optical_flow.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["dataset", "sub", "filename_o", "label", "apex", "imagename",
                             "sub_filename"]
    assert [(r["sub"], r["filename_o"], r["label"], r["imagename"]) for r in rows[2:5]] == [
        ("s01", "s01_ne_01", "0", "s01_s1_ne_01.jpg"), ("s03", "s03_sur_02", "2",
                                                        "s03_s3_sur_02.jpg"),
        ("006", "006_1_2", "0", "006_006_1_2.jpg")]
    whole = out / "datasets" / "STSNet_whole_norm_u_v_os" / "006_006_1_2 .png"
    assert np.array_equal(_cv2_read(whole), flow_image(clips[4].u, clips[4].v, clips[4].strain))
    assert (out / "norm_u_v_os" / "006" / "u_test" / "0" / "006_006_1_2 .png").is_file()
    apex = np.asarray(Image.open(out / "datasets" / "combined_datasets_whole"
                                 / "006_006_1_2.jpg"), dtype=np.float32)
    assert clips[4].frames is not None
    errors = [np.abs(apex - frame).mean() for frame in clips[4].frames.astype(np.float32)]
    assert int(np.argmin(errors)) == 2  # frame 12, the apex
    assert (out / COMPOSITE_CSV).is_file()


def test_refuses_a_folder_that_is_not_empty_and_writes_nothing_on_error(
        tmp_path: Path, clips: list[ExportClip]) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        export_clips("npy", clips, tmp_path / "full")
    no_frames = [ExportClip(c.dataset, c.subject, c.clip, c.label, c.onset_frame,
                            c.apex_frame, c.u, c.v, c.strain) for c in clips]
    with pytest.raises(DataError, match="aligned frames were not loaded"):
        export_clips("htnet", no_frames, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
