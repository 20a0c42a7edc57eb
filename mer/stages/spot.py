"""Stage `spot`: micro-expression intervals (onset, apex, offset) in a recording.

``mer spot VIDEO_OR_FOLDER [--fps F] [--out intervals.csv|intervals.json]`` reads an MP4, AVI or
MOV file (frame rate from the file) or a folder of frames (``--fps`` needed), aligns the face
every few seconds, removes head motion and light changes, and prints the intervals it finds
(:func:`mer.spotting.recording.spot_recording`); ``--out`` also writes them, CSV or JSON by the
suffix. Frame numbers are the folder's own, or 1.. for a video; times are seconds from the start.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mer.config import load_params
from mer.data.atomic import write_text
from mer.data.errors import DataError
from mer.data.frames import frame_number, list_frames, read_frame
from mer.data.video import is_video, read_video

FIELDS = ("onset_frame", "apex_frame", "offset_frame", "onset_s", "apex_s", "offset_s", "score")


@dataclass(frozen=True)
class Recording:
    """Frames (T, H, W[, 3]) uint8, their numbers, the frame rate and where they came from."""

    frames: np.ndarray
    numbers: list[int]
    fps: float
    path: Path


def load_recording(path: Path, fps: float | None) -> Recording:
    """A video file (numbers 1..T) or a folder of frames (its numbers; ``fps`` required).

    Raises:
        DataError: not found, not decodable, no frames, frames of different sizes, no frame rate.
    """
    if is_video(path):
        video = read_video(path)
        return Recording(video.frames, list(range(1, len(video.frames) + 1)), fps or video.fps, path)
    if not path.exists():
        raise DataError(path, "not found: give a video file (.mp4, .avi, .mov) or a folder of frames")
    paths = list_frames(path)
    if not paths:
        raise DataError(path, "no frames: the folder holds no image files")
    if fps is None:
        raise DataError(path, "a folder of frames has no frame rate: pass --fps")
    frames = [read_frame(p) for p in paths]
    if any(f.shape != frames[0].shape for f in frames):
        raise DataError(path, "frames of different sizes: a recording needs one size")
    return Recording(np.stack(frames), [frame_number(p) for p in paths], fps, path)


def rows(recording: Recording, intervals: Sequence) -> list[dict[str, float | int]]:
    """One output row per interval (frame numbers and seconds from the first frame)."""
    out = []
    for i in intervals:
        out.append({"onset_frame": recording.numbers[i.onset], "apex_frame": recording.numbers[i.apex],
                    "offset_frame": recording.numbers[i.offset],
                    "onset_s": round(i.onset / recording.fps, 3), "apex_s": round(i.apex / recording.fps, 3),
                    "offset_s": round(i.offset / recording.fps, 3), "score": round(i.score, 6)})
    return out


def render(table: list[dict[str, float | int]], suffix: str) -> str:
    """The rows as CSV (header, LF) or JSON (a list of objects)."""
    if suffix == ".json":
        return json.dumps(table, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the recording, its frame rate, the output and the spotting threshold."""
    parser = argparse.ArgumentParser(prog="mer spot", description=__doc__.split("\n\n")[0])
    parser.add_argument("recording", type=Path, help="video file (.mp4, .avi, .mov) or folder of frames")
    parser.add_argument("--fps", type=float, help="frame rate (a folder needs it; a video has its own)")
    parser.add_argument("--out", type=Path, help="also write the intervals here (.csv or .json)")
    parser.add_argument("--threshold", type=float,
                        help="peaks above the median by this many robust standard deviations")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml (faces)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Spot the recording, print its intervals as CSV, write them to ``--out``."""
    from mer.spotting.intervals import SpotSettings  # noqa: PLC0415
    from mer.spotting.recording import spot_recording  # noqa: PLC0415

    args = parse_args(argv)
    if args.out is not None and args.out.suffix.lower() not in (".csv", ".json"):
        raise DataError(args.out, "the output must end in .csv or .json")
    faces = load_params(args.params).faces
    settings = SpotSettings(margin=faces.margin) if args.threshold is None else SpotSettings(
        margin=faces.margin, threshold=args.threshold)
    recording = load_recording(args.recording, args.fps)
    intervals = spot_recording(recording.frames, recording.fps, settings, size=faces.size,
                               where=str(args.recording))
    table = rows(recording, intervals)
    print(render(table, ".csv"), end="")
    if args.out is not None:
        write_text(args.out, render(table, args.out.suffix.lower()))
    return 0
