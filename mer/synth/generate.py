"""Generate the embedded default corpus: micro (CASME II, SAMM, SMIC-HS layouts) and macro (CK+)."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from mer.data.errors import DataError
from mer.synth import layouts
from mer.synth.clips import render_plan
from mer.synth.photos import source_photos
from mer.synth.plan import ClipPlan, CorpusSpec, plan_macro, plan_micro
from mer.synth.subjects import Identity, make_identity, render_subject

log = logging.getLogger(__name__)

#: The true apex of the SMIC-layout clips, relative to the output folder (SMIC has none).
SMIC_APEX_TRUTH = "micro/smic_apex.csv"


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the synthetic corpus (defaults: the embedded default corpus).

    Attributes:
        casme2_subjects, samm_subjects, smic_subjects, macro_subjects: subjects per sub-corpus;
            every subject is its own identity (micro first, then macro).
        casme2_clips, samm_clips, smic_clips: clips with a composite class per corpus.
        casme2_others, samm_others: clips the composite leaves out ("others", "sadness", "Other").
        micro_max_frames: longest CASME II / SAMM clip (onset..offset), frames; longer sheet
            durations are compressed in time.
        smic_max_frames: longest SMIC clip, frames (100 fps).
        macro_sequences: CK+ sequences per macro subject.
        macro_frames: (min, max) frames of a CK+ sequence.
        micro_amplitude_px: (min, max) apex displacement, pixels at a 128 px face.
        macro_amplitude_px: (min, max) apex displacement of macro sequences, same unit.
        low_amplitude_fraction: share of micro clips drawn near the lower bound (noise floor).
        macro_unlabelled_fraction: share of CK+ sequences without an emotion file.
        macro_shares_identities: render macro subjects from the micro identities (overlap).
        jitter_px: head jitter scale, pixels per frame (standard deviation).
        drift_px: largest slow head drift over a clip, pixels.
        noise_sigma: sensor noise scale, grey levels.
        casme2_size, samm_size, smic_size, ck_size: frame (width, height), pixels.
    """

    casme2_subjects: int = 6
    samm_subjects: int = 5
    smic_subjects: int = 5
    macro_subjects: int = 30
    casme2_clips: int = 46
    casme2_others: int = 12
    samm_clips: int = 45
    samm_others: int = 5
    smic_clips: int = 45
    micro_max_frames: int = 40
    smic_max_frames: int = 20
    macro_sequences: int = 8
    macro_frames: tuple[int, int] = (10, 20)
    micro_amplitude_px: tuple[float, float] = (0.3, 2.0)
    macro_amplitude_px: tuple[float, float] = (4.0, 8.0)
    low_amplitude_fraction: float = 0.15
    macro_unlabelled_fraction: float = 0.15
    macro_shares_identities: bool = False
    jitter_px: float = 0.3
    drift_px: float = 1.0
    noise_sigma: float = 1.6
    casme2_size: tuple[int, int] = (320, 240)
    samm_size: tuple[int, int] = (288, 240)
    smic_size: tuple[int, int] = (240, 240)
    ck_size: tuple[int, int] = (320, 240)

    def __post_init__(self) -> None:
        for name in ("casme2_subjects", "samm_subjects", "smic_subjects", "macro_subjects"):
            if getattr(self, name) < 1:
                raise ValueError(f"SynthConfig.{name} must be >= 1, got {getattr(self, name)}")
        low, high = self.micro_amplitude_px
        if not 0 < low <= high:
            raise ValueError(f"SynthConfig.micro_amplitude_px must be 0 < min <= max, got {low, high}")
        if self.micro_max_frames < 6 or self.smic_max_frames < 6:
            raise ValueError("SynthConfig.micro_max_frames and smic_max_frames must be >= 6")

    def frame_size(self, dataset: str) -> tuple[int, int]:
        """Frame (width, height) in pixels of ``casme2``, ``samm``, ``smic`` or ``ck``."""
        return {"casme2": self.casme2_size, "samm": self.samm_size, "smic": self.smic_size,
                "ck": self.ck_size}[dataset]


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote.

    Attributes:
        out: the output folder.
        seed: the seed.
        clips: clips per dataset (``casme2``, ``samm``, ``smic``, ``ck``).
        identities: distinct identities rendered.
        files: files written (including the manifest).
        bytes: their total size.
        seconds: wall time of the run.
    """

    out: Path
    seed: int
    clips: dict[str, int]
    identities: int
    files: int
    bytes: int
    seconds: float


def plan_corpus(config: SynthConfig, seed: int) -> tuple[dict[int, Identity], list[ClipPlan]]:
    """The identities (index -> parameters) and every clip plan of a corpus, without pixels."""
    identities = {i: make_identity(i, seed) for i in _identity_ids(config)}
    return identities, _plans(config, seed, identities)


def _plans(config: SynthConfig, seed: int, identities: dict[int, Identity]) -> list[ClipPlan]:
    expressiveness = {i: make_identity(i, seed).expressiveness for i in identities}
    habit_rate = {i: make_identity(i, seed).habit_rate for i in identities}
    plans: list[ClipPlan] = []
    first = 0
    specs = []
    for dataset, n_subjects, labelled, others, max_frames, fps in (
        ("casme2", config.casme2_subjects, config.casme2_clips, config.casme2_others,
         config.micro_max_frames, 200.0),
        ("samm", config.samm_subjects, config.samm_clips, config.samm_others,
         config.micro_max_frames, 200.0),
        ("smic", config.smic_subjects, config.smic_clips, 0, config.smic_max_frames, 100.0),
    ):
        specs.append(CorpusSpec(dataset, tuple(range(first, first + n_subjects)), labelled, others,
                                max_frames, fps))
        first += n_subjects
    for spec in specs:
        plans += plan_micro(spec, seed, expressiveness, habit_rate, config.low_amplitude_fraction,
                            config.micro_amplitude_px)
    macro_ids = (tuple(range(config.macro_subjects)) if config.macro_shares_identities
                 else tuple(range(first, first + config.macro_subjects)))
    plans += plan_macro(macro_ids, config.macro_sequences, seed, config.macro_amplitude_px,
                        config.macro_frames, config.macro_unlabelled_fraction)
    return plans


def _identity_ids(config: SynthConfig) -> list[int]:
    micro = config.casme2_subjects + config.samm_subjects + config.smic_subjects
    macro = 0 if config.macro_shares_identities else config.macro_subjects
    return list(range(micro + macro))


def _worker_init() -> None:
    """In a worker process: one torch thread (the workers themselves use the cores)."""
    import torch

    torch.set_num_threads(1)


def _render_group(out: Path, identity: Identity, size: tuple[int, int], plans: list[ClipPlan],
                  config: SynthConfig) -> dict[str, dict[str, object]]:
    """Render and write the clips of one subject; return the files written (path -> record)."""
    subject = render_subject(identity, size)
    sink = layouts.FileSink(out)
    for plan in plans:
        frames = render_plan(plan, subject, config.jitter_px, config.drift_px, config.noise_sigma)
        layouts.write_frames(sink, plan, frames)
        if plan.dataset == "ck":
            emotion = layouts.ck_emotion_file(plan)
            if emotion is not None:
                sink.write(*emotion)
    return sink.files


def generate(out: Path, seed: int, config: SynthConfig | None = None, *,
             overwrite: bool = False, progress: bool = False, workers: int = 1) -> SynthSummary:
    """Generate the micro- and macro-expression corpora under ``out``, deterministically.

    Layout (see ``docs`` of each writer in :mod:`mer.synth.layouts`)::

        out/micro/casme2/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg + CASME2-coding-synthetic.xlsx
        out/micro/samm/SAMM/006/006_1_2/006_05562.jpg + SAMM_Micro_FACS_Codes_synthetic.xlsx
        out/micro/smic/HS/s1/micro/negative/s1_ne_01/image000123.bmp
        out/micro/combined_3class_gt.csv, out/micro/subjects.csv
        out/micro/smic_apex.csv (the true apex of the SMIC clips, outside the SMIC layout)
        out/macro/ck/cohn-kanade-images/S005/001/S005_001_00000001.png, out/macro/ck/Emotion/...
        out/macro/subjects.csv, out/manifest.json

    Args:
        out: output folder; created if missing.
        seed: the same seed gives the same bytes in every file.
        config: the knobs (default :class:`SynthConfig`).
        overwrite: if ``out`` already holds a corpus, remove its ``micro``, ``macro`` and
            ``manifest.json`` first; otherwise a non-empty ``out`` is an error.
        progress: show a progress bar (tqdm, on stderr).
        workers: processes that render subjects in parallel (1: in this process). The bytes
            written do not depend on it. Workers are spawned, so a script that calls this with
            ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard.

    Returns:
        A :class:`SynthSummary`.

    Raises:
        DataError: ``out`` is not empty and ``overwrite`` is false.
    """
    config = config or SynthConfig()
    started = time.perf_counter()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DataError(out, "output folder is not empty; pass overwrite=True or an empty folder")
        for name in ("micro", "macro"):
            shutil.rmtree(out / name, ignore_errors=True)
        (out / "manifest.json").unlink(missing_ok=True)
    source_photos()
    identities, plans = plan_corpus(config, seed)
    groups: dict[tuple[int, str], list[ClipPlan]] = {}
    for plan in plans:
        groups.setdefault((plan.identity, plan.dataset), []).append(plan)
    jobs = [(out, identities[i], config.frame_size(d), group, config) for (i, d), group in groups.items()]
    jobs.sort(key=lambda job: -sum(p.n_frames for p in job[3]))  # longest first
    sink = layouts.FileSink(out)
    bar = tqdm(total=len(plans), desc="synth clips", unit="clip", disable=not progress)
    if workers <= 1:
        for job in jobs:
            sink.files.update(_render_group(*job))
            bar.update(len(job[3]))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(_render_group, *job): len(job[3]) for job in jobs}
            for future in as_completed(futures):
                sink.files.update(future.result())
                bar.update(futures[future])
    bar.close()
    sink.files = dict(sorted(sink.files.items()))
    by_dataset = {d: [p for p in plans if p.dataset == d] for d in ("casme2", "samm", "smic", "ck")}
    sink.write("micro/casme2/CASME2-coding-synthetic.xlsx", layouts.casme2_sheet(by_dataset["casme2"]))
    sink.write("micro/samm/SAMM_Micro_FACS_Codes_synthetic.xlsx",
               layouts.samm_sheet(by_dataset["samm"], seed))
    sink.write("micro/combined_3class_gt.csv", layouts.composite_csv(plans))
    sink.write(SMIC_APEX_TRUTH, layouts.apex_truth_csv(by_dataset["smic"]))
    photos = source_photos()
    micro_rows = sorted({(p.dataset, p.subject, identities[p.identity].name,
                          photos[identities[p.identity].photo].name)
                         for p in plans if p.dataset != "ck"})
    macro_rows = sorted({(p.subject, identities[p.identity].name,
                          photos[identities[p.identity].photo].name) for p in by_dataset["ck"]})
    sink.write("micro/subjects.csv",
               layouts.csv_bytes(("dataset", "subject", "identity", "source_photo"), micro_rows))
    sink.write("macro/subjects.csv",
               layouts.csv_bytes(("subject", "identity", "source_photo"), macro_rows))
    counts = {d: len(v) for d, v in by_dataset.items()}
    labels = {d: {str(k): sum(1 for p in v if p.label == k) for k in sorted(
        {p.label for p in v if p.label is not None})} for d, v in by_dataset.items()}
    manifest = {
        "generator": "mer.synth",
        "seed": seed,
        "config": dataclasses.asdict(config),
        "counts": {"clips": counts, "labels": labels, "identities": len(identities),
                   "frames": sum(p.n_frames for p in plans), "files": len(sink.files)},
        "files": sink.files,
    }
    sink.write("manifest.json", layouts.manifest_bytes(manifest))
    summary = SynthSummary(out=out, seed=seed, clips=counts, identities=len(identities),
                           files=len(sink.files),
                           bytes=sum(f["bytes"] for f in sink.files.values()),
                           seconds=time.perf_counter() - started)
    log.info("synthetic corpus in %s: %s clips, %d files, %.1f MB, %.1f s", out, counts,
             summary.files, summary.bytes / 1e6, summary.seconds)
    return summary
