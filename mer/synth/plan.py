"""What to generate: subjects of each sub-corpus and one plan per clip (no pixels, no I/O).

Emotion counts per corpus follow the real sheets' frequencies (:mod:`mer.synth.statistics`),
allocated by largest remainder so the class skew is exact and seed-independent; AU codes and
onset->apex->offset durations are drawn per clip from the derived tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mer.synth.derive import QUANTILE_LEVELS
from mer.synth.statistics import CK_EMOTIONS, MACRO_PROTOTYPES, SHEET_STATISTICS

#: Composite class per (corpus, native emotion); emotions absent here are left out of the gt file.
COMPOSITE: dict[str, dict[str, int]] = {
    "casme2": {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2},
    "samm": {"anger": 0, "contempt": 0, "disgust": 0, "fear": 0, "sadness": 0, "happiness": 1,
             "surprise": 2},
    "smic": {"negative": 0, "positive": 1, "surprise": 2},
}

#: The real composite's SMIC class counts (negative, positive, surprise), MEGC2019.
SMIC_CLASS_COUNTS: dict[str, int] = {"negative": 70, "positive": 51, "surprise": 43}
#: SMIC has no AU codes: its classes borrow CASME II's combinations of these emotions.
SMIC_SOURCES: dict[str, tuple[str, ...]] = {
    "negative": ("disgust", "repression"), "positive": ("happiness",), "surprise": ("surprise",),
}
_SMIC_CODES = {"negative": "ne", "positive": "po", "surprise": "sur"}


@dataclass(frozen=True)
class ClipPlan:
    """One clip to render and write.

    Attributes:
        dataset: ``casme2``, ``samm``, ``smic`` or ``ck``.
        subject: subject as spelled on disk (``sub01``, ``006``, ``s1``, ``S005``).
        sheet_subject: the subject as the sheet writes it (an integer), or None (SMIC, CK+).
        identity: the identity index it is rendered from.
        clip: clip id (``EP02_01f``, ``006_1_2``, ``s1_ne_01``, ``001``).
        emotion: native emotion as the corpus spells it (``disgust``, ``Anger``, ``negative``).
        label: composite class code (0 negative, 1 positive, 2 surprise), or None.
        au_code: normalised code that is rendered, e.g. ``4+L10``.
        onset: first frame number; apex: apex frame number; offset: last frame number.
        fps: frames per second of the corpus.
        amplitude: peak displacement at the apex, pixels at a 128 px face width.
        habit: the subject's habitual AU is added; blink: a blink happens in the clip.
        seed_key: (corpus code, clip index) used to seed the clip's generator.
    """

    dataset: str
    subject: str
    sheet_subject: int | None
    identity: int
    clip: str
    emotion: str
    label: int | None
    au_code: str
    onset: int
    apex: int
    offset: int
    fps: float
    amplitude: float
    habit: bool
    blink: bool
    seed_key: tuple[int, int]

    @property
    def n_frames(self) -> int:
        """Frames written (onset..offset inclusive)."""
        return self.offset - self.onset + 1


def allocate(weights: dict[str, float], total: int) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` by largest remainder (ties by name)."""
    names = sorted(weights)
    raw = np.array([weights[n] for n in names], float) / sum(weights.values()) * total
    counts = np.floor(raw).astype(int)
    order = sorted(range(len(names)), key=lambda i: (-(raw[i] - counts[i]), names[i]))
    for i in order[: total - counts.sum()]:
        counts[i] += 1
    return {n: int(c) for n, c in zip(names, counts, strict=True)}


def _quantile_draw(quantiles: tuple[int, ...], rng: np.random.Generator) -> float:
    return float(np.interp(rng.uniform(0, 100), QUANTILE_LEVELS, quantiles))


def draw_durations(corpus: str, rng: np.random.Generator, max_frames: int, speed: float = 1.0
                   ) -> tuple[int, int]:
    """Frames onset->apex and apex->offset, from the sheet's quantiles, fitted into ``max_frames``.

    Args:
        corpus: ``casme2`` or ``samm`` (whose 200 fps statistics are used).
        rng: generator.
        max_frames: clips longer than this (onset..offset inclusive) are compressed in time.
        speed: frame-rate factor (0.5 for a 100 fps corpus).

    Returns:
        (rise, fall), each >= 2 frames, ``rise + fall + 1 <= max_frames``.
    """
    stats = SHEET_STATISTICS[corpus]
    rise = max(_quantile_draw(stats["onset_to_apex"], rng) * speed, 2.0)
    fall = max(_quantile_draw(stats["apex_to_offset"], rng) * speed, 2.0)
    if rise + fall + 1 > max_frames:
        squeeze = (max_frames - 1) / (rise + fall)
        rise, fall = rise * squeeze, fall * squeeze
    rise_i = max(int(round(rise)), 2)
    fall_i = max(min(int(round(fall)), max_frames - 1 - rise_i), 2)
    return rise_i, fall_i


def draw_combo(combos: tuple[tuple[str, int], ...], rng: np.random.Generator) -> str:
    """A code drawn with the sheet's frequencies."""
    counts = np.array([c for _, c in combos], float)
    return combos[int(rng.choice(len(combos), p=counts / counts.sum()))][0]


def _spread(n_clips: int, n_subjects: int, rng: np.random.Generator) -> list[int]:
    """Subject of each clip: uneven like real corpora, at least two clips per subject."""
    weights = rng.gamma(2.0, 1.0, n_subjects)
    owners = list(range(n_subjects)) * 2
    extra = rng.choice(n_subjects, n_clips - len(owners), p=weights / weights.sum())
    owners += [int(e) for e in extra]
    return [owners[i] for i in rng.permutation(len(owners))]


def _amplitude(rng: np.random.Generator, expressiveness: float, low_fraction: float,
               bounds: tuple[float, float]) -> float:
    low, high = bounds
    if rng.uniform() < low_fraction:  # near the noise floor
        return float(rng.uniform(low, low * 1.5))
    value = np.exp(rng.uniform(np.log(low * 1.5), np.log(high * 0.8))) * expressiveness
    return float(np.clip(value, low, high))


@dataclass(frozen=True)
class CorpusSpec:
    """The subjects and clip counts of one micro corpus."""

    dataset: str
    identities: tuple[int, ...]
    labelled: int  # clips with a composite class
    others: int  # clips the composite leaves out
    max_frames: int
    fps: float


def plan_micro(spec: CorpusSpec, seed: int, expressiveness: dict[int, float],
               habit_rate: dict[int, float], low_fraction: float,
               amplitude_px: tuple[float, float]) -> list[ClipPlan]:
    """Plan the clips of one micro corpus (see :class:`ClipPlan`)."""
    code = {"casme2": 1, "samm": 2, "smic": 3}[spec.dataset]
    rng = np.random.default_rng([seed, code, 0])
    if spec.dataset == "smic":
        counts = allocate({k: float(v) for k, v in SMIC_CLASS_COUNTS.items()}, spec.labelled)
        combos = {e: tuple(kv for src in SMIC_SOURCES[e]
                           for kv in SHEET_STATISTICS["casme2"]["combos"][src]) for e in counts}
    else:
        stats = SHEET_STATISTICS[spec.dataset]
        emotions = {e: float(n) for e, n in stats["emotions"].items()}
        labelled = {e: n for e, n in emotions.items() if e in COMPOSITE[spec.dataset]}
        counts = allocate(labelled, spec.labelled)
        rest = {e: n for e, n in emotions.items() if e not in COMPOSITE[spec.dataset] and n >= 5}
        counts.update(allocate(rest, spec.others))
        combos = dict(stats["combos"])
    emotions_list = [e for e in sorted(counts) for _ in range(counts[e])]
    emotions_list = [emotions_list[i] for i in rng.permutation(len(emotions_list))]
    owners = _spread(len(emotions_list), len(spec.identities), rng)
    plans: list[ClipPlan] = []
    per_subject: dict[int, int] = {}
    for index, (emotion, owner) in enumerate(zip(emotions_list, owners, strict=True)):
        crng = np.random.default_rng([seed, code, 1, index])
        identity = spec.identities[owner]
        k = per_subject[owner] = per_subject.get(owner, 0) + 1
        speed = 0.5 if spec.fps < 150 else 1.0
        rise, fall = draw_durations("samm" if spec.dataset == "samm" else "casme2", crng,
                                    spec.max_frames, speed)
        if spec.dataset == "casme2":
            subject, sheet_subject = f"sub{owner + 1:02d}", owner + 1
            clip = f"EP{int(crng.integers(1, 20)):02d}_{k:02d}{'f' if crng.uniform() < 0.7 else ''}"
            onset = int(crng.integers(1, 300))
            native = emotion
        elif spec.dataset == "samm":
            number = (6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)[owner % 12] + 20 * (owner // 12)
            subject, sheet_subject = f"{number:03d}", number
            clip = f"{number:03d}_{(k - 1) % 7 + 1}_{(k - 1) // 7 + 2}"
            onset = int(crng.integers(100, 9000))
            native = emotion.capitalize()
        else:
            subject, sheet_subject = f"s{owner + 1}", None
            rank = sum(1 for p in plans if p.subject == subject and p.emotion == emotion) + 1
            clip = f"s{owner + 1}_{_SMIC_CODES[emotion]}_{rank:02d}"
            onset = int(crng.integers(1, 5000))
            native = emotion
        plans.append(ClipPlan(
            dataset=spec.dataset, subject=subject, sheet_subject=sheet_subject, identity=identity,
            clip=clip, emotion=native, label=COMPOSITE[spec.dataset].get(emotion),
            au_code=draw_combo(combos[emotion], crng), onset=onset, apex=onset + rise,
            offset=onset + rise + fall, fps=spec.fps,
            amplitude=_amplitude(crng, expressiveness[identity], low_fraction, amplitude_px),
            habit=bool(crng.uniform() < habit_rate[identity]), blink=bool(crng.uniform() < 0.15),
            seed_key=(code, index),
        ))
    return sorted(plans, key=lambda p: (p.identity, p.clip))


def plan_macro(identities: tuple[int, ...], sequences: int, seed: int,
               amplitude_px: tuple[float, float], frames: tuple[int, int],
               unlabelled_fraction: float) -> list[ClipPlan]:
    """Plan CK+-style sequences: neutral to apex, emotions 1..7 in turn per subject.

    ``label`` holds the CK+ emotion code (1..7), or None for a sequence without an emotion file
    (like most of CK+'s 593 sequences lack one of its 327 labels).
    """
    plans = []
    ck_numbers = (5, 10, 11, 14, 22, 26, 32, 34, 35, 37, 42, 44, 45, 46, 50, 51)
    for s_index, identity in enumerate(identities):
        number = ck_numbers[s_index % len(ck_numbers)] + 100 * (s_index // len(ck_numbers))
        for q in range(sequences):
            index = s_index * sequences + q
            crng = np.random.default_rng([seed, 4, 1, index])
            code = (q + s_index) % 7 + 1
            emotion = CK_EMOTIONS[code]
            n = int(crng.integers(frames[0], frames[1] + 1))
            plans.append(ClipPlan(
                dataset="ck", subject=f"S{number:03d}", sheet_subject=None, identity=identity,
                clip=f"{q + 1:03d}", emotion=emotion,
                label=None if crng.uniform() < unlabelled_fraction else code,
                au_code=draw_combo(MACRO_PROTOTYPES[emotion], crng), onset=1, apex=n, offset=n,
                fps=30.0, amplitude=float(crng.uniform(*amplitude_px)), habit=False,
                blink=False, seed_key=(4, index),
            ))
    return plans
