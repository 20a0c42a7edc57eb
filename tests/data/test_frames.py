"""Tests of mer.data.frames: frame numbers, frame order and safe image reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mer.data.errors import DataError
from mer.data.frames import frame_number, list_frames, read_frame


@pytest.mark.parametrize(("name", "number"), [
    ("img46.jpg", 46), ("reg_img46.jpg", 46), ("006_05562.jpg", 5562),
    ("image035669.bmp", 35669), ("175.jpg", 175), ("IMG9.JPG", 9)])
def test_frame_number_reads_the_trailing_digits(name: str, number: int) -> None:
    assert frame_number(Path("clip") / name) == number


def test_frame_number_rejects_a_name_without_digits() -> None:
    with pytest.raises(DataError, match=r"cover\.jpg: .*does not end in a frame number"):
        frame_number("cover.jpg")


def test_list_frames_sorts_numerically_not_by_name(tmp_path: Path, make_clip) -> None:
    make_clip(tmp_path / "EP02_01f", [10, 9, 100, 1])
    (tmp_path / "EP02_01f" / "Thumbs.db").write_bytes(b"x")
    (tmp_path / "EP02_01f" / ".hidden9.jpg").write_bytes(b"x")
    names = [path.name for path in list_frames(tmp_path / "EP02_01f")]
    assert names == ["img1.jpg", "img9.jpg", "img10.jpg", "img100.jpg"]


def test_list_frames_rejects_two_files_with_one_number(tmp_path: Path, make_clip) -> None:
    make_clip(tmp_path / "c", [1])
    make_clip(tmp_path / "c", [1], pattern="img0{}.jpg")
    with pytest.raises(DataError, match="frame number 1 also used by"):
        list_frames(tmp_path / "c")


def test_list_frames_rejects_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope: clip folder not found"):
        list_frames(tmp_path / "nope")


def test_read_frame_keeps_grey_and_colour_shapes(tmp_path: Path, make_clip) -> None:
    grey, = make_clip(tmp_path / "g", [7], pattern="006_{:05d}.png", mode="L")
    colour, = make_clip(tmp_path / "c", [7], pattern="img{}.png")
    assert read_frame(grey).shape == (3, 4) and read_frame(grey).dtype == np.uint8
    assert read_frame(grey)[0, 0] == 7
    assert read_frame(colour).shape == (3, 4, 3) and read_frame(colour)[0, 0, 0] == 7


def test_read_frame_converts_palette_and_alpha_to_rgb(tmp_path: Path) -> None:
    Image.new("RGBA", (2, 2), (1, 2, 3, 4)).save(tmp_path / "a1.png")
    Image.new("P", (2, 2)).save(tmp_path / "p1.png")
    assert read_frame(tmp_path / "a1.png").shape == (2, 2, 3)
    assert read_frame(tmp_path / "p1.png").shape == (2, 2, 3)


def test_read_frame_rejects_a_decompression_bomb(tmp_path: Path) -> None:
    Image.new("L", (100, 100)).save(tmp_path / "big1.png")
    with pytest.raises(DataError, match=r"big1\.png: image of 100x100 pixels exceeds 5000"):
        read_frame(tmp_path / "big1.png", max_pixels=5000)


def test_read_frame_rejects_a_truncated_file(tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), (200, 10, 10)).save(tmp_path / "img1.jpg", quality=95)
    data = (tmp_path / "img1.jpg").read_bytes()
    (tmp_path / "img2.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"img2\.jpg: truncated or corrupt image"):
        read_frame(tmp_path / "img2.jpg")


def test_read_frame_rejects_a_file_that_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "img3.jpg").write_text("not an image")
    with pytest.raises(DataError, match=r"img3\.jpg: not a readable image"):
        read_frame(tmp_path / "img3.jpg")


def test_read_frame_rejects_16_bit_images(tmp_path: Path) -> None:
    Image.new("I;16", (2, 2)).save(tmp_path / "deep1.png")
    with pytest.raises(DataError, match=r"deep1\.png: unsupported pixel mode"):
        read_frame(tmp_path / "deep1.png")
