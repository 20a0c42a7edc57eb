"""Long synthetic recordings for spotting: several micro-expressions, blinks and head movements.

A recording is one identity filmed for ``seconds`` at ``fps``: neutral most of the time, with
micro-expressions (an AU combination of CASME II's sheet, raised-cosine rise and fall, 0.2-0.5 s),
blinks (AU 43, 0.15-0.3 s) and head movements (a rigid shift and roll to a new pose over
0.4-1.2 s) placed between them without overlap, plus per-frame jitter, a slow light drift and
sensor noise (:func:`mer.synth.render.render_clip`). The truth is written beside the frames.

Layout::

    out/rec01/img00001.jpg ... (frame numbers from 1)
    out/truth.csv   recording,kind,onset,apex,offset,au_code   (frame numbers; kind is
                    ``expression``, ``blink`` or ``head``)
    out/recordings.json   seed, config, fps per recording
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mer.synth import layouts
from mer.synth.actions import ActionUnit, combination_field
from mer.synth.clips import REFERENCE_FACE_PX, expression_field
from mer.synth.plan import ClipPlan, draw_combo
from mer.synth.render import Motion, intensity_curve, render_clip
from mer.synth.statistics import SHEET_STATISTICS
from mer.synth.subjects import make_identity, render_subject

__all__ = ["Event", "RecordingConfig", "generate_recordings", "plan_recording", "render_recording"]

#: Emotions whose CASME II AU combinations the expressions borrow.
_EMOTIONS = ("disgust", "happiness", "surprise", "repression")


@dataclass(frozen=True)
class RecordingConfig:
    """Knobs of the long recordings.

    Attributes:
        seconds: length of each recording.
        fps: frame rate.
        expressions, blinks, head_movements: events per recording.
        size: frame (width, height), pixels.
        amplitude_px: (min, max) apex displacement of an expression, pixels at a 128 px face.
        head_shift_px: (min, max) translation of a head movement, pixels.
        head_roll_deg: largest roll change of a head movement, degrees.
        jitter_px: per-frame head jitter (standard deviation), pixels.
        noise_sigma: sensor noise, grey levels.
    """

    seconds: float = 20.0
    fps: float = 30.0
    expressions: int = 4
    blinks: int = 4
    head_movements: int = 3
    size: tuple[int, int] = (240, 240)
    amplitude_px: tuple[float, float] = (1.0, 2.0)
    head_shift_px: tuple[float, float] = (2.0, 6.0)
    head_roll_deg: float = 3.0
    jitter_px: float = 0.1
    noise_sigma: float = 1.5

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.seconds <= 0:
            raise ValueError(f"RecordingConfig: fps and seconds must be > 0, got {self.fps}, {self.seconds}")

    @property
    def n_frames(self) -> int:
        """Frames per recording."""
        return int(round(self.seconds * self.fps))


@dataclass(frozen=True)
class Event:
    """One event of a recording; frame indices from 0 (``onset <= apex <= offset``).

    ``kind`` is ``expression``, ``blink`` or ``head``; ``au_code`` is the expression's AUs ("" else).
    """

    kind: str
    onset: int
    apex: int
    offset: int
    au_code: str = ""


def _frames(seconds: tuple[float, float], fps: float, rng: np.random.Generator) -> int:
    return max(3, int(round(rng.uniform(*seconds) * fps)))


def plan_recording(config: RecordingConfig, seed: int, index: int) -> list[Event]:
    """The events of recording ``index``, in time order, separated by neutral gaps.

    Raises:
        ValueError: the events do not fit in the recording.
    """
    rng = np.random.default_rng([seed, 7, index])
    kinds = (["expression"] * config.expressions + ["blink"] * config.blinks
             + ["head"] * config.head_movements)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    lengths = []
    for kind in kinds:
        if kind == "expression":
            lengths.append(_frames((0.2, 0.5), config.fps, rng))
        elif kind == "blink":
            lengths.append(_frames((0.15, 0.3), config.fps, rng))
        else:
            lengths.append(_frames((0.4, 1.2), config.fps, rng))
    margin = int(round(0.5 * config.fps))
    free = config.n_frames - sum(lengths) - 2 * margin
    if free < len(kinds) * margin:
        raise ValueError(f"recording {index}: {len(kinds)} events of {sum(lengths)} frames do not "
                         f"fit in {config.n_frames} frames with gaps")
    gaps = rng.dirichlet(np.ones(len(kinds) + 1)) * (free - len(kinds) * margin)
    events, start = [], margin
    for k, (kind, length) in enumerate(zip(kinds, lengths, strict=True)):
        start += margin + int(gaps[k])
        offset = start + length - 1
        if kind == "expression":
            rise = max(1, int(round(length * rng.uniform(0.3, 0.5))))
            code = draw_combo(SHEET_STATISTICS["casme2"]["combos"][_EMOTIONS[int(rng.integers(4))]], rng)
            events.append(Event(kind, start, start + rise, offset, code))
        else:
            events.append(Event(kind, start, (start + offset) // 2, offset))
        start = offset + 1
    return events


def _expression(event: Event, index: int, identity: int, fps: float, amplitude: float) -> ClipPlan:
    """A clip plan that carries an expression's AUs and amplitude to :func:`expression_field`."""
    return ClipPlan(dataset="casme2", subject=f"rec{index:02d}", sheet_subject=None,
                    identity=identity, clip=f"event{event.onset}", emotion="", label=None,
                    au_code=event.au_code, onset=event.onset, apex=event.apex,
                    offset=event.offset, fps=fps, amplitude=amplitude, habit=False, blink=False,
                    seed_key=(7, index))


def render_recording(config: RecordingConfig, seed: int, index: int, events: list[Event]
                     ) -> np.ndarray:
    """Render recording ``index``: (T, H, W, 3) uint8 RGB (deterministic in seed and index)."""
    rng = np.random.default_rng([seed, 8, index])
    identity = make_identity(index, seed)
    subject = render_subject(identity, config.size)
    n = config.n_frames
    t = np.arange(n, dtype=np.float64)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    head = np.zeros((n, 3))
    pose = np.zeros(3)
    for event in events:
        length = event.offset - event.onset + 1
        if event.kind == "expression":
            amplitude = float(rng.uniform(*config.amplitude_px))
            field = expression_field(_expression(event, index, identity.index, config.fps,
                                                 amplitude), subject)
            curve = np.zeros(n)
            curve[event.onset:event.offset + 1] = intensity_curve(length, event.apex - event.onset,
                                                                  residual=0.0)
            pairs.append((field, curve))
        elif event.kind == "blink":
            blink = combination_field((ActionUnit(43),), subject.landmarks, subject.image.shape[:2])
            blink = blink * np.float32(rng.uniform(1.5, 3.0) * subject.face_width / REFERENCE_FACE_PX)
            s = np.clip((t - event.onset) / max(length - 1, 1), 0, 1)
            pairs.append((blink, np.where((t >= event.onset) & (t <= event.offset),
                                          np.sin(np.pi * s) ** 2, 0.0)))
        else:
            angle = rng.uniform(0, 2 * np.pi)
            shift = rng.uniform(*config.head_shift_px)
            target = pose + np.array([shift * np.cos(angle), shift * np.sin(angle),
                                      np.deg2rad(rng.uniform(-config.head_roll_deg, config.head_roll_deg))])
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.clip((t - event.onset) / max(length - 1, 1), 0, 1))
            after = t >= event.onset
            head[after] = pose + ramp[after, None] * (target - pose)
            pose = target
    head[:, :2] += rng.normal(0.0, config.jitter_px, (n, 2))
    motion = Motion(jitter_px=0.0, gain_drift=float(rng.uniform(-0.04, 0.04)),
                    gradient_drift=float(rng.uniform(-0.06, 0.06)), noise_sigma=config.noise_sigma)
    field, curve = pairs[0] if pairs else (np.zeros((*subject.image.shape[:2], 2), np.float32), np.zeros(n))
    return render_clip(subject, field, curve, motion, rng, pairs[1:], head=head)


def generate_recordings(out: Path, seed: int, count: int, config: RecordingConfig | None = None
                        ) -> list[list[Event]]:
    """Render ``count`` recordings into ``out`` (see the module docstring for the layout).

    Returns:
        The events of each recording (what ``truth.csv`` holds, with frame indices from 0).
    """
    config = config or RecordingConfig()
    out = Path(out)
    sink = layouts.FileSink(out)
    rows, plans = [], []
    for index in range(1, count + 1):
        events = plan_recording(config, seed, index)
        frames = render_recording(config, seed, index, events)
        name = f"rec{index:02d}"
        for number, frame in enumerate(frames, start=1):
            sink.write(f"{name}/img{number:05d}.jpg", layouts.encode_image(frame, "jpeg"))
        rows += [(name, e.kind, e.onset + 1, e.apex + 1, e.offset + 1, e.au_code) for e in events]
        plans.append(events)
    sink.write("truth.csv", layouts.csv_bytes(("recording", "kind", "onset", "apex", "offset", "au_code"), rows))
    meta = {"seed": seed, "count": count, "config": dataclasses.asdict(config)}
    sink.write("recordings.json", (json.dumps(meta, sort_keys=True, indent=2) + "\n").encode())
    return plans
