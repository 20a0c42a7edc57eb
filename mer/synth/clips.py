"""From a clip plan to pixels: the subject's AU field, the intensity curve and the nuisances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mer.synth.actions import ActionUnit, combination_field, parse_code
from mer.synth.plan import ClipPlan
from mer.synth.render import Motion, intensity_curve, render_clip
from mer.synth.subjects import Subject

#: Face width at which amplitudes are stated, pixels.
REFERENCE_FACE_PX = 128.0
#: Sensor noise (grey levels) per dataset before the per-clip factor; SMIC-HS is the noisiest.
NOISE_BY_DATASET = {"casme2": 1.0, "samm": 1.2, "smic": 1.6, "ck": 0.8}
#: Weight of a subject's habitual AU relative to the coded AUs (it is not written in the sheet).
HABIT_WEIGHT = 0.4


@dataclass(frozen=True)
class ClipDrive:
    """Everything that moves in one clip.

    Attributes:
        field: (H, W, 2) float32 expression displacement at the apex, pixels (dx, dy).
        curve: (T,) float64 intensity per frame, 1 at the apex.
        motion: head motion, light and noise.
        extra: further (field, curve) pairs (a blink).
    """

    field: np.ndarray
    curve: np.ndarray
    motion: Motion
    extra: tuple[tuple[np.ndarray, np.ndarray], ...]


def expression_field(plan: ClipPlan, subject: Subject) -> np.ndarray:
    """The clip's apex displacement field: its AUs (plus the subject's habit), scaled.

    Returns:
        (H, W, 2) float32, pixels; the peak length is ``plan.amplitude`` x face width / 128.
    """
    identity = subject.identity
    units = list(parse_code(plan.au_code))
    weights = dict(identity.au_weights)
    if plan.habit and identity.habit:
        for unit in parse_code(identity.habit):
            if all(u.number != unit.number for u in units):
                units.append(ActionUnit(unit.number, unit.side))
                weights[unit.number] = weights.get(unit.number, 1.0) * HABIT_WEIGHT
    field = combination_field(tuple(units), subject.landmarks, subject.image.shape[:2], weights,
                              identity.sigma_scale)
    return field * np.float32(plan.amplitude * subject.face_width / REFERENCE_FACE_PX)


def clip_drive(plan: ClipPlan, subject: Subject, jitter_px: float, drift_px: float,
               noise_sigma: float) -> ClipDrive:
    """Draw the nuisances of a clip and assemble its drive (deterministic in ``plan.seed_key``)."""
    rng = np.random.default_rng([subject.identity.index, *plan.seed_key, 11])
    n = plan.n_frames
    macro = plan.dataset == "ck"
    if macro:
        curve = intensity_curve(n, max(n - 3, 1), macro=True)
    else:
        curve = intensity_curve(n, plan.apex - plan.onset, residual=float(rng.uniform(0.0, 0.25)))
    angle = rng.uniform(0, 2 * np.pi)
    drift = drift_px * rng.uniform(0.0, 1.0)
    motion = Motion(
        jitter_px=jitter_px * float(rng.uniform(0.3, 1.3)),
        drift_px=(drift * float(np.cos(angle)), drift * float(np.sin(angle))),
        roll_deg=float(rng.uniform(-0.5, 0.5)),
        gain_drift=float(rng.uniform(-0.04, 0.04)),
        gradient_drift=float(rng.uniform(-0.06, 0.06)),
        noise_sigma=noise_sigma * NOISE_BY_DATASET[plan.dataset] * float(rng.uniform(0.8, 1.25)),
    )
    extra: list[tuple[np.ndarray, np.ndarray]] = []
    if plan.blink:
        blink = combination_field((ActionUnit(43),), subject.landmarks, subject.image.shape[:2])
        blink = blink * np.float32(rng.uniform(1.5, 3.0) * subject.face_width / REFERENCE_FACE_PX)
        width = int(rng.integers(4, 9))
        start = int(rng.integers(0, max(n - width, 1)))
        t = np.arange(n, dtype=np.float64)
        bump = np.where((t >= start) & (t <= start + width),
                        np.sin(np.pi * np.clip((t - start) / width, 0, 1)) ** 2, 0.0)
        extra.append((blink, bump))
    return ClipDrive(expression_field(plan, subject), curve, motion, tuple(extra))


def render_plan(plan: ClipPlan, subject: Subject, jitter_px: float, drift_px: float,
                noise_sigma: float) -> np.ndarray:
    """Render a planned clip: (T, H, W, 3) uint8 RGB, or (T, H, W) uint8 for SAMM and CK+."""
    drive = clip_drive(plan, subject, jitter_px, drift_px, noise_sigma)
    rng = np.random.default_rng([subject.identity.index, *plan.seed_key, 13])
    return render_clip(subject, drive.field, drive.curve, drive.motion, rng, list(drive.extra),
                       grey=plan.dataset in ("samm", "ck"))
