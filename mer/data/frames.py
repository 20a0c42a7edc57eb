"""Frame files of a clip folder: listing them in frame order and reading one image safely.

Frame numbers are the corpus's own, taken from the trailing digits of the file name
(``img46.jpg``, ``reg_img46.jpg``, ``006_05562.jpg``, ``image035669.bmp`` and ``175.jpg`` are
frames 46, 46, 5562, 35669 and 175), and frames sort by that number (``img9`` before ``img10``).
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
from PIL import Image, UnidentifiedImageError

from mer.data.errors import DataError

#: File name endings taken as frames (compared in lower case); anything else in a clip folder
#: (``Thumbs.db``, ``.DS_Store``, notes) is ignored.
FRAME_SUFFIXES: Final[frozenset[str]] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})

#: Largest image accepted by :func:`read_frame`, in pixels (50 MP; corpus frames are below 3 MP).
MAX_PIXELS: Final[int] = 50_000_000

_TRAILING_NUMBER = re.compile(r"(\d+)$")
_PIL_FORMATS: Final[tuple[str, ...]] = ("JPEG", "PNG", "BMP", "TIFF")
_AS_GREY: Final[frozenset[str]] = frozenset({"1", "LA", "L"})
_AS_RGB: Final[frozenset[str]] = frozenset({"P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})

_PNG_SIGNATURE: Final[bytes] = b"\x89PNG\r\n\x1a\n"
#: Samples per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA).
_PNG_CHANNELS: Final[dict[int, int]] = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Adam7 passes as (first column, first row, column step, row step).
_ADAM7: Final[tuple[tuple[int, int, int, int], ...]] = (
    (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
    (0, 1, 1, 2))
#: Most bytes inflated at once while counting a PNG's pixel data (bounds the memory used).
_INFLATE_STEP: Final[int] = 1 << 20


def frame_number(path: str | Path) -> int:
    """Return the frame number written at the end of a frame file's name (before the suffix).

    Raises:
        DataError: the name does not end in digits.
    """
    match = _TRAILING_NUMBER.search(Path(path).stem)
    if match is None:
        raise DataError(path, "frame file name does not end in a frame number (e.g. img46.jpg)")
    return int(match.group(1))


def is_frame_file(path: Path) -> bool:
    """Return whether ``path`` looks like a frame: a visible file with an image suffix."""
    return not path.name.startswith(".") and path.suffix.lower() in FRAME_SUFFIXES


def list_frames(folder: str | Path) -> list[Path]:
    """List the frame files of a clip folder, ascending by frame number.

    Raises:
        DataError: the folder is missing, a frame name has no number, or two files carry the
            same frame number (``img1.jpg`` and ``img01.jpg``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "clip folder not found")
    by_number: dict[int, Path] = {}
    for path in folder.iterdir():
        if not is_frame_file(path) or not path.is_file():
            continue
        number = frame_number(path)
        if number in by_number:
            raise DataError(path, f"frame number {number} also used by {by_number[number].name}")
        by_number[number] = path
    return [by_number[number] for number in sorted(by_number)]


def read_frame(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read one frame as a ``uint8`` array: ``(H, W)`` for greyscale, ``(H, W, 3)`` RGB otherwise.

    Palette, alpha and CMYK images are converted to RGB (or to grey for grey+alpha and 1-bit).
    The size is checked from the header before any pixel is decoded, and a PNG's pixel data is
    checked to hold every row its header declares (Pillow fills missing rows with zeros).

    Raises:
        DataError: naming the file, when it is not a readable JPEG/PNG/BMP/TIFF image, is larger
            than ``max_pixels`` (a decompression bomb), is truncated or corrupt, or has a pixel
            mode with more than 8 bits per channel.
    """
    path = Path(path)
    try:
        with Image.open(path, formats=_PIL_FORMATS) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise DataError(path, f"image of {width}x{height} pixels exceeds {max_pixels}")
            if image.format == "PNG":
                _check_png_rows(path)
            image.load()
            return _to_array(image, path)
    except DataError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise DataError(path, f"not a readable image ({error})") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(path, f"truncated or corrupt image ({error})") from error


def _check_png_rows(path: Path) -> None:
    """Check that a PNG's IDAT data inflates to exactly the bytes its IHDR declares.

    The data is inflated at most :data:`_INFLATE_STEP` bytes at a time and only counted, never
    kept, and inflating stops one byte past the declared size.

    Raises:
        DataError: the file ends inside a chunk or before IEND, the IHDR is malformed, or the
            pixel data is short ("truncated"), too long or not a valid zlib stream.
    """
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if file.read(8) != _PNG_SIGNATURE:
            raise DataError(path, "corrupt image (no PNG signature)")
        expected = _png_data_size(path, _png_chunk(file, path, size, b"IHDR"))
        inflater, found = zlib.decompressobj(), 0
        try:
            while (data := _png_chunk(file, path, size, b"IDAT")) is not None:
                while data and found <= expected:
                    found += len(inflater.decompress(data, _INFLATE_STEP))
                    data = inflater.unconsumed_tail
            if found <= expected:
                found += len(inflater.flush())
        except zlib.error as error:
            raise DataError(path, f"corrupt image (PNG pixel data: {error})") from error
    if found < expected:
        raise DataError(path, f"truncated or corrupt image (PNG data holds {found} of {expected} "
                              "bytes its header declares)")
    if found > expected:
        raise DataError(path, f"corrupt image (PNG data holds more than the {expected} bytes "
                              "its header declares)")


def _png_chunk(file: BinaryIO, path: Path, size: int, kind: bytes) -> bytes | None:
    """Read PNG chunks up to the next one of ``kind``; return its data, or ``None`` at IEND.

    Raises:
        DataError: the file ends before IEND or inside a chunk (length past the file end).
    """
    while len(header := file.read(8)) == 8:
        length, name = struct.unpack(">I4s", header)
        if file.tell() + length + 4 > size:
            raise DataError(path, f"truncated or corrupt image (PNG {name.decode('latin-1')} "
                                  f"chunk of {length} bytes runs past the end of the file)")
        if name == b"IEND":
            return None
        if name == kind:
            data = file.read(length)
            file.seek(4, os.SEEK_CUR)  # the CRC
            return data
        file.seek(length + 4, os.SEEK_CUR)
    raise DataError(path, "truncated or corrupt image (PNG file ends before its IEND chunk)")


def _png_data_size(path: Path, ihdr: bytes | None) -> int:
    """Return the inflated size in bytes of a PNG's pixel data, from its IHDR chunk data.

    Each row of ``ceil(width * bits_per_pixel / 8)`` bytes is preceded by one filter byte; an
    Adam7-interlaced image holds its 7 passes one after another, empty passes having no rows.

    Raises:
        DataError: the IHDR is missing, not 13 bytes, or names an unknown colour type.
    """
    if ihdr is None or len(ihdr) != 13:
        raise DataError(path, "corrupt image (PNG IHDR chunk missing or not 13 bytes)")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if colour not in _PNG_CHANNELS:
        raise DataError(path, f"corrupt image (unknown PNG colour type {colour})")
    bits = depth * _PNG_CHANNELS[colour]
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for column, row, column_step, row_step in passes:
        columns = (width - column + column_step - 1) // column_step
        rows = (height - row + row_step - 1) // row_step
        if columns and rows:
            total += rows * (1 + (columns * bits + 7) // 8)
    return total


def _to_array(image: Image.Image, path: Path) -> np.ndarray:
    """Convert a loaded Pillow image to a ``uint8`` grey or RGB array."""
    if image.mode in _AS_GREY:
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if image.mode in _AS_RGB:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    raise DataError(path, f"unsupported pixel mode {image.mode!r}; expected 8-bit grey or colour")
