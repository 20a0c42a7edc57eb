"""Video files in and out (MP4, AVI, MOV), decoded with PyAV (FFmpeg's libraries, in its wheel).

The frame rate is read from the file's video stream (its average rate, else the guessed rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import numpy as np

from mer.data.atomic import atomic_path
from mer.data.errors import DataError

__all__ = ["MAX_BYTES", "VIDEO_SUFFIXES", "Video", "is_video", "read_video", "write_video"]

#: File name endings read as videos (compared in lower case).
VIDEO_SUFFIXES: Final[frozenset[str]] = frozenset({".mp4", ".avi", ".mov"})
#: Largest decoded size accepted (RGB bytes), so a long HD file fails clearly instead of filling
#: the memory: 4 GiB is about 6 minutes of 640x480 at 30 fps.
MAX_BYTES: Final[int] = 4 << 30


@dataclass(frozen=True)
class Video:
    """A decoded video.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB.
        fps: frames per second, from the file.
        path: the file.
    """

    frames: np.ndarray
    fps: float
    path: Path


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video file by its suffix (see :data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def read_video(path: str | Path, max_bytes: int = MAX_BYTES) -> Video:
    """Decode every frame of a video file to RGB.

    Args:
        path: an MP4, AVI or MOV file.
        max_bytes: largest decoded size accepted.

    Returns:
        The frames and the frame rate.

    Raises:
        DataError: the file is missing, cannot be decoded, has no video stream, no frames, no
            frame rate, or decodes to more than ``max_bytes``.
    """
    import av  # noqa: PLC0415 - FFmpeg's libraries load on first use

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "video file not found")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(path, "cannot decode the video: the file has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            total = 0
            for frame in container.decode(stream):
                array = frame.to_ndarray(format="rgb24")
                total += array.nbytes
                if total > max_bytes:
                    raise DataError(path, f"the decoded video is larger than {max_bytes >> 20} MiB; "
                                          "cut it into shorter files")
                frames.append(array)
    except av.error.FFmpegError as error:
        raise DataError(path, f"cannot decode the video ({error})") from error
    if not frames:
        raise DataError(path, "cannot decode the video: it holds no frames")
    if not rate or float(rate) <= 0:
        raise DataError(path, "cannot decode the video: the file gives no frame rate")
    return Video(np.stack(frames), float(rate), path)


def write_video(path: str | Path, frames: np.ndarray, fps: float, bit_rate: int = 20_000_000) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames as MPEG-4 Part 2 (any container suffix), atomically.

    Width and height must be even (4:2:0 chroma). A high ``bit_rate`` keeps small facial motion.

    Raises:
        ValueError: bad frames or frame rate.
    """
    import av  # noqa: PLC0415

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"width and height must be even, got {frames.shape[2]}x{frames.shape[1]}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format=_FORMATS[path.suffix.lower()]) as container:
            stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = bit_rate
            for array in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
            container.mux(stream.encode())


#: FFmpeg muxer per suffix.
_FORMATS: Final[dict[str, str]] = {".mp4": "mp4", ".avi": "avi", ".mov": "mov"}
