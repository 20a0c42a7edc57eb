"""Spotting benchmark: apex error per spotter and layout, MEGC interval scores, speed.

    python benchmarks/spotting_benchmark.py apex --corpus DIR [--cache FILE.npz] [--threads N]
        Every clip of a generated corpus (``mer synth --out DIR --seed 1``: the development
        corpus, never the reported seed 0) whose apex is known: the sheets' apex (CASME II, SAMM
        layouts) and the generator's true apex of the SMIC layout (``micro/smic_apex.csv``).
        Faces are aligned as the faces stage does; each spotter sees the onset..offset frames.
        Prints a Markdown table of the mean absolute error in frames and as a share of the clip,
        and the milliseconds each spotter takes per clip. ``--cache`` keeps the aligned clips.

    python benchmarks/spotting_benchmark.py intervals --seed 1 --count 4 [--threshold T]
        Long recordings from :mod:`mer.synth.recordings` (20 s at 30 fps each), spotted by
        :func:`mer.spotting.recording.spot_recording`, scored as MEGC does (IoU >= 0.5).
        Also times one recording through the video path (MP4 encode not timed; decode, align,
        spot timed) and reports seconds per minute of 30 fps video.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mer.data.frames import read_frame
from mer.data.readers import read_corpus
from mer.faces import align_clip
from mer.flow.features import to_grey
from mer.spotting import SPOTTERS, spot_apex
from mer.synth.generate import SMIC_APEX_TRUTH

LAYOUTS = (("casme2", "micro/casme2/CASME2_RAW_selected", "micro/casme2/CASME2-coding-synthetic.xlsx"),
           ("samm", "micro/samm/SAMM", "micro/samm/SAMM_Micro_FACS_Codes_synthetic.xlsx"),
           ("smic", "micro/smic/HS", None))


def aligned_clips(corpus: Path, cache: Path | None = None
                  ) -> dict[str, list[tuple[np.ndarray, int]]]:
    """layout -> [(onset..offset grey aligned frames (T, H, W) uint8, apex index in them)].

    Every clip whose apex is known. Faces are aligned as the faces stage aligns them. With
    ``cache``, the clips are read from that ``.npz`` when it exists, else written to it.
    """
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            out: dict[str, list[tuple[np.ndarray, int]]] = {}
            for key in stored.files:
                if not key.endswith("|apex"):
                    apex = int(stored[key + "|apex"])
                    out.setdefault(key.split("|")[0], []).append((stored[key], apex))
            return out
    truth = {(r["subject"], r["clip"]): int(r["apex"])
             for r in csv.DictReader((corpus / SMIC_APEX_TRUTH).open())}
    out = {}
    arrays: dict[str, np.ndarray] = {}
    for layout, root, sheet in LAYOUTS:
        table = read_corpus(layout, corpus / root, corpus / sheet if sheet else None).table
        for row in table.to_pylist():
            apex = row["apex"] if row["apex"] is not None else truth.get((row["subject"], row["clip"]))
            numbers = list(row["frame_numbers"])
            if apex is None or apex not in numbers or row["onset"] not in numbers:
                continue
            frames = [read_frame(Path(row["root"]) / f) for f in row["frames"]]
            aligned = align_clip(frames, size=128, margin=0.2, reference=0, clip=row["clip"])
            onset = numbers.index(row["onset"])
            grey = np.asarray(to_grey(aligned.frames))[onset:]
            out.setdefault(layout, []).append((grey, numbers.index(apex) - onset))
            key = f"{layout}|{row['subject']}/{row['clip']}"
            arrays[key], arrays[key + "|apex"] = grey, np.array(numbers.index(apex) - onset)
    if cache is not None:
        np.savez(cache, **arrays)
    return out


def apex_errors(clips: dict[str, list[tuple[np.ndarray, int]]]
                ) -> dict[str, dict[str, list[tuple[int, int, float]]]]:
    """layout -> spotter -> [(absolute error in frames, clip length in frames, milliseconds)]."""
    out: dict[str, dict[str, list[tuple[int, int, float]]]] = {}
    for layout, items in clips.items():
        per = out.setdefault(layout, {s: [] for s in SPOTTERS})
        for grey, apex in items:
            for spotter in SPOTTERS:
                started = time.perf_counter()
                index = spot_apex(grey, spotter)
                ms = 1000 * (time.perf_counter() - started)
                per[spotter].append((abs(index - apex), len(grey), ms))
    return out


def apex_table(errors: dict[str, dict[str, list[tuple[int, int, float]]]]) -> str:
    """Markdown: spotter x layout, MAE in frames and as a share of the clip; ms per clip."""
    lines = ["| spotter | " + " | ".join(f"{layout} MAE frames | {layout} MAE share"
                                          for layout in errors) + " |",
             "|---|" + "---|---|" * len(errors)]
    timing = ["| spotter | " + " | ".join(f"{layout} ms per clip" for layout in errors) + " |",
              "|---|" + "---|" * len(errors)]
    for spotter in SPOTTERS:
        cells = []
        for layout in errors:
            pairs = np.array(errors[layout][spotter], float)
            cells += [f"{pairs[:, 0].mean():.2f}", f"{(pairs[:, 0] / pairs[:, 1]).mean():.3f}"]
        lines.append(f"| {spotter} | " + " | ".join(cells) + " |")
        timing.append(f"| {spotter} | " + " | ".join(
            f"{np.mean([e[2] for e in errors[layout][spotter]]):.0f}" for layout in errors) + " |")
    counts = ", ".join(f"{layout} {len(errors[layout][SPOTTERS[0]])}" for layout in errors)
    threads = torch.get_num_threads()
    return "\n".join([*lines, "", f"clips: {counts} ({threads} torch threads)", "", *timing, ""])


def interval_scores(seed: int, count: int, threshold: float | None) -> str:
    """Generate ``count`` recordings, spot them, score them; return a Markdown report."""
    from mer.data.video import read_video, write_video  # noqa: PLC0415
    from mer.spotting.evaluate import SpottingScore, score_intervals  # noqa: PLC0415
    from mer.spotting.intervals import SpotSettings  # noqa: PLC0415
    from mer.spotting.recording import spot_recording  # noqa: PLC0415
    from mer.synth.recordings import RecordingConfig, plan_recording, render_recording  # noqa: PLC0415

    config = RecordingConfig()
    settings = SpotSettings() if threshold is None else SpotSettings(threshold=threshold)
    total = SpottingScore(0, 0, 0)
    rows = []
    seconds = 0.0
    for index in range(1, count + 1):
        events = plan_recording(config, seed, index)
        frames = render_recording(config, seed, index, events)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"rec{index:02d}.mp4"
            write_video(path, frames, config.fps)
            started = time.perf_counter()
            video = read_video(path)
            spotted = spot_recording(video.frames, video.fps, settings, where=str(path))
            seconds += time.perf_counter() - started
        truth = [(e.onset, e.offset) for e in events if e.kind == "expression"]
        score = score_intervals([(s.onset, s.offset) for s in spotted], truth)
        total = total + score
        rows.append(f"| rec{index:02d} | {score.truth} | {score.spotted} | {score.true_positives} |")
    minutes = count * config.seconds / 60
    return "\n".join([
        "| recording | truth | spotted | hits (IoU >= 0.5) |", "|---|---|---|---|", *rows, "",
        "| precision | recall | F1 |", "|---|---|---|",
        f"| {total.precision:.3f} | {total.recall:.3f} | {total.f1:.3f} |", "",
        f"time (decode MP4, align, spot): {seconds:.1f} s for {minutes:.2f} min of "
        f"{config.fps:g} fps video = {seconds / minutes:.1f} s per minute "
        f"({torch.get_num_threads()} torch threads)", ""])


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark and print its Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    apex = sub.add_parser("apex")
    apex.add_argument("--corpus", type=Path, required=True)
    apex.add_argument("--cache", type=Path,
                      help="aligned clips .npz: read if it exists, else written")
    apex.add_argument("--threads", type=int, default=1)
    intervals = sub.add_parser("intervals")
    intervals.add_argument("--seed", type=int, default=1)
    intervals.add_argument("--count", type=int, default=4)
    intervals.add_argument("--threshold", type=float)
    intervals.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.what == "apex":
        torch.set_num_threads(args.threads)
        sys.stdout.write(apex_table(apex_errors(aligned_clips(args.corpus, args.cache))))
    else:
        torch.set_num_threads(args.threads)
        sys.stdout.write(interval_scores(args.seed, args.count, args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
