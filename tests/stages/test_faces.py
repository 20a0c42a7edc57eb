"""Stage `faces`: a frame that cannot be decoded excludes its clip (listed) and the run goes on."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from PIL import Image
from skimage import data

from mer.config import FacesParams
from mer.data.errors import DataError
from mer.quality.faces import validate_faces
from mer.stages.faces import align_table


@pytest.fixture
def clips(tmp_path: Path) -> pa.Table:
    """Two 2-frame clips of the astronaut photo; the second's last frame is a truncated JPEG."""
    rows = []
    for clip in ("good", "broken"):
        folder = tmp_path / "raw" / clip
        folder.mkdir(parents=True)
        for number in (1, 2):
            Image.fromarray(data.astronaut()).save(folder / f"img{number}.jpg", quality=90)
        rows.append({"dataset": "casme2", "subject": "sub01", "clip": clip,
                     "root": str(tmp_path / "raw"), "frames": [f"{clip}/img1.jpg",
                                                              f"{clip}/img2.jpg"],
                     "frame_numbers": [1, 2]})
    broken = tmp_path / "raw" / "broken" / "img2.jpg"
    broken.write_bytes(broken.read_bytes()[:2000])
    return pa.Table.from_pylist(rows)


def test_bad_frame_excludes_its_clip_and_the_run_goes_on(tmp_path: Path,
                                                         clips: pa.Table) -> None:
    out = tmp_path / "faces"
    table = align_table(clips, out, FacesParams(size=64))
    good, broken = table.to_pylist()
    assert good["status"] == "aligned" and (out / good["path"]).is_file()
    assert broken["status"] == "bad_frame" and broken["path"] is None
    assert broken["n_frames"] == 2
    assert "broken/img2.jpg cannot be decoded" in broken["reason"]
    report = validate_faces(table, out, 64)
    assert report.success
    assert report.dropped == [{"dataset": "casme2", "subject": "sub01", "clip": "broken",
                               "reason": broken["reason"]}]
    assert not (out / "casme2" / "sub01" / "broken.npz").exists()


def test_bad_frame_fails_the_stage_when_asked(tmp_path: Path, clips: pa.Table) -> None:
    with pytest.raises(DataError, match=r"broken/img2\.jpg: truncated or corrupt image"):
        align_table(clips, tmp_path / "faces", FacesParams(size=64, on_bad_frame="fail"))
