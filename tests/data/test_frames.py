"""Tests of mer.data.frames: frame numbers, frame order and safe image reading."""

from __future__ import annotations

import struct
import zlib
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


def _png(pixels: np.ndarray, interlaced: bool = False, height: int | None = None) -> bytes:
    """An 8-bit RGB PNG of ``pixels`` ``(H, W, 3)`` whose header declares ``height`` (or H) rows.

    The pixel data is one complete zlib stream, unfiltered; interlaced images hold the 7 Adam7
    passes (empty ones left out), as Pillow cannot write them.
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    passes = ([(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
               (1, 0, 2, 2), (0, 1, 1, 2)] if interlaced else [(0, 0, 1, 1)])
    images = [pixels[y::dy, x::dx] for x, y, dx, dy in passes]
    raw = b"".join(b"\x00" + row.tobytes() for image in images if image.size
                   for row in image)
    ihdr = struct.pack(">IIBBBBB", pixels.shape[1], height or pixels.shape[0], 8, 2, 0, 0,
                       int(interlaced))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def test_read_frame_rejects_a_png_missing_rows(tmp_path: Path) -> None:
    """A complete zlib stream holding 2 of 4 rows: Pillow alone pads the rest with zeros."""
    (tmp_path / "img5.png").write_bytes(_png(np.full((2, 6, 3), 90, np.uint8), height=4))
    with pytest.raises(DataError, match=r"img5\.png: truncated or corrupt image "
                                        r"\(PNG data holds 38 of 76 bytes"):
        read_frame(tmp_path / "img5.png")


def test_read_frame_rejects_png_data_longer_than_its_rows(tmp_path: Path) -> None:
    (tmp_path / "img6.png").write_bytes(_png(np.full((4, 6, 3), 90, np.uint8), height=3))
    with pytest.raises(DataError, match=r"img6\.png: corrupt image \(PNG data holds more than "
                                        r"the 57 bytes"):
        read_frame(tmp_path / "img6.png")


@pytest.mark.parametrize(("height", "width"), [(9, 11), (1, 1), (2, 3)])
def test_read_frame_reads_an_interlaced_png(tmp_path: Path, height: int, width: int) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    (tmp_path / "img7.png").write_bytes(_png(pixels, interlaced=True))
    with Image.open(tmp_path / "img7.png") as image:
        assert image.info.get("interlace") == 1
    np.testing.assert_array_equal(read_frame(tmp_path / "img7.png"), pixels)
