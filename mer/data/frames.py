"""Frame files of a clip folder: listing them in frame order and reading one image safely.

Frame numbers are the corpus's own, taken from the trailing digits of the file name
(``img46.jpg``, ``reg_img46.jpg``, ``006_05562.jpg``, ``image035669.bmp`` and ``175.jpg`` are
frames 46, 46, 5562, 35669 and 175), and frames sort by that number (``img9`` before ``img10``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

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
    The size is checked from the header before any pixel is decoded.

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
            image.load()
            return _to_array(image, path)
    except DataError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise DataError(path, f"not a readable image ({error})") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(path, f"truncated or corrupt image ({error})") from error


def _to_array(image: Image.Image, path: Path) -> np.ndarray:
    """Convert a loaded Pillow image to a ``uint8`` grey or RGB array."""
    if image.mode in _AS_GREY:
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if image.mode in _AS_RGB:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    raise DataError(path, f"unsupported pixel mode {image.mode!r}; expected 8-bit grey or colour")
