"""Hostile frame images through :func:`mer.data.frames.read_frame`: bombs, truncation, wrong
content, unusual pixel modes. Each is rejected with a DataError naming the file, or converted
as documented (palette, alpha, CMYK -> RGB; 1-bit, grey+alpha -> grey).
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mer.data.errors import DataError
from mer.data.frames import read_frame

# Pillow warns about the corrupt files it is fed here; the contract is checked on the outcome.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_declaring(width: int, height: int, depth: int = 8, colour: int = 2,
                   body: bytes = b"") -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height``; the pixel data is ``body`` (zlib'd)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(body)) + _png_chunk(b"IEND", b""))


def _bmp_declaring(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info


def _encode(mode: str, format: str, size=(8, 6), **options) -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, size)
    image.save(out, format=format, **options)
    return out.getvalue()


def _zip_bomb_png() -> bytes:
    """A valid-looking 7000x7000 RGB PNG (49 MP, under the limit) whose data is all zeros."""
    width = height = 7000
    rows = b"".join(b"\x00" + bytes(width * 3) for _ in range(8))
    return _png_declaring(width, height, body=rows)  # far too short: truncated after 8 rows


VALID = {
    "rgb_jpeg": (_encode("RGB", "JPEG"), (6, 8, 3)),
    "grey_png": (_encode("L", "PNG"), (6, 8)),
    "palette_png": (_encode("P", "PNG"), (6, 8, 3)),
    "rgba_png": (_encode("RGBA", "PNG"), (6, 8, 3)),
    "grey_alpha_png": (_encode("LA", "PNG"), (6, 8)),
    "one_bit_png": (_encode("1", "PNG"), (6, 8)),
    "cmyk_jpeg": (_encode("CMYK", "JPEG"), (6, 8, 3)),
    "rgb_bmp": (_encode("RGB", "BMP"), (6, 8, 3)),
    "rgb_tiff": (_encode("RGB", "TIFF"), (6, 8, 3)),
    "upper_case_suffix": (_encode("RGB", "JPEG"), (6, 8, 3)),
}
REJECTED = {
    "bomb_100000_squared_png": (_png_declaring(100_000, 100_000), "not a readable image"),
    "bomb_over_limit_png": (_png_declaring(10_000, 6_000), "exceeds"),
    "bomb_max_dims_png": (_png_declaring(2**31 - 1, 2**31 - 1), ""),
    "bomb_zero_dims_png": (_png_declaring(0, 0), ""),
    "bomb_bmp": (_bmp_declaring(100_000, 100_000), ""),
    "bomb_bmp_negative_height": (_bmp_declaring(10, -2**31), ""),
    "truncated_rows_png": (_zip_bomb_png(), "truncated"),
    "zero_bytes": (b"", "not a readable image"),
    "text_named_jpg": (b"this is not an image\n" * 10, "not a readable image"),
    "html_named_jpg": (b"<html><body>404</body></html>", "not a readable image"),
    "gif_named_png": (_encode("P", "GIF"), "not a readable image"),
    "webp_named_jpg": (_encode("RGB", "WEBP"), "not a readable image"),
    "sixteen_bit_png": (_encode("I;16", "PNG"), "unsupported pixel mode"),
    "thirty_two_bit_tiff": (_encode("I", "TIFF"), "unsupported pixel mode"),
    "float_tiff": (_encode("F", "TIFF"), "unsupported pixel mode"),
    "png_signature_only": (b"\x89PNG\r\n\x1a\n", ""),
    "jpeg_soi_only": (b"\xff\xd8", ""),
    "bmp_header_only": (b"BM", ""),
    "tiff_header_only": (b"II*\x00\x08\x00\x00\x00", ""),
    "tiff_loop_ifd": (b"II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00", ""),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(VALID))
def test_documented_conversions(case: str, outcome, tmp_path: Path) -> None:
    data, shape = VALID[case]
    path = tmp_path / ("FRAME1.JPG" if case == "upper_case_suffix" else f"frame1.{case[-4:]}")
    path.write_bytes(data)
    array = outcome(lambda: read_frame(path), path.name)
    assert isinstance(array, np.ndarray) and array.dtype == np.uint8 and array.shape == shape


@pytest.mark.timeout(30)
@pytest.mark.parametrize("data,rule", [REJECTED[case] for case in sorted(REJECTED)],
                         ids=sorted(REJECTED))
def test_rejected_images(data: bytes, rule: str, outcome, tmp_path: Path) -> None:
    path = tmp_path / "img1.png"
    path.write_bytes(data)
    error = outcome(lambda: read_frame(path), path.name)
    assert isinstance(error, DataError) and str(path) == error.where and rule in error.rule


@pytest.mark.timeout(30)
def test_folder_named_like_a_frame(outcome, tmp_path: Path) -> None:
    (tmp_path / "img1.jpg").mkdir()
    assert isinstance(outcome(lambda: read_frame(tmp_path / "img1.jpg"), "img1.jpg"), DataError)
    assert isinstance(outcome(lambda: read_frame(tmp_path / "gone.jpg"), "gone.jpg"), DataError)


TRUNCATABLE = {name: VALID[name][0] for name in ("rgb_jpeg", "grey_png", "palette_png",
                                                 "rgb_bmp", "rgb_tiff", "cmyk_jpeg")}
TRUNCATABLE["big_jpeg"] = _encode("RGB", "JPEG", size=(64, 48), quality=95)
TRUNCATABLE["progressive_jpeg"] = _encode("RGB", "JPEG", size=(64, 48), progressive=True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(TRUNCATABLE))
def test_every_truncation(case: str, outcome, tmp_path: Path) -> None:
    """About 100 cuts spread over the file: rejected, never a crash."""
    data = TRUNCATABLE[case]
    step = max(1, len(data) // 100)
    path = tmp_path / "img1.img"
    for cut in range(0, len(data) - 1, step):
        path.write_bytes(data[:cut])
        result = outcome(lambda: read_frame(path), path.name)
        # a cut that only loses trailing metadata may still decode; pixels must be whole
        assert isinstance(result, DataError) or result.dtype == np.uint8


@pytest.mark.timeout(60)
@settings(max_examples=120, deadline=None)
@given(case=st.sampled_from(sorted(TRUNCATABLE)),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=6))
def test_corrupted_bytes(case: str, flips, outcome) -> None:
    data = bytearray(TRUNCATABLE[case])
    for where, value in flips:
        data[int(where * len(data))] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "img1.bin")
        path.write_bytes(bytes(data))
        result = outcome(lambda: read_frame(path), path.name)
    assert isinstance(result, DataError) or result.ndim in (2, 3)


@pytest.mark.timeout(60)
@settings(max_examples=100, deadline=None)
@given(width=st.integers(0, 2**32 - 1), height=st.integers(0, 2**32 - 1),
       depth=st.sampled_from([1, 2, 4, 8, 16, 3, 0, 255]),
       colour=st.sampled_from([0, 2, 3, 4, 6, 1, 7, 255]), body=st.binary(max_size=64))
def test_random_png_headers(width: int, height: int, depth: int, colour: int, body: bytes,
                            outcome) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "img1.png")
        path.write_bytes(_png_declaring(width, height, depth, colour, body))
        result = outcome(lambda: read_frame(path), path.name)
    if not isinstance(result, DataError):
        assert result.shape[:2] == (height, width) and width * height <= 50_000_000
