"""Amplitudes of the AU fields, intensity curves, subjects and their faces."""

from __future__ import annotations

import warnings

import numpy as np
from PIL import ImageFile
import pytest

from mer.synth import SynthConfig
from mer.synth.actions import SUPPORTED_AUS, ActionUnit, combination_field, parse_code
from mer.synth.clips import REFERENCE_FACE_PX, expression_field, render_plan
from mer.synth.generate import plan_corpus
from mer.synth.render import intensity_curve
from mer.synth.subjects import render_subject


@pytest.fixture(scope="module")
def default_plan():  # type: ignore[no-untyped-def]
    config = SynthConfig()
    identities, plans = plan_corpus(config, seed=0)
    subjects = {}
    for p in plans:
        if p.identity not in subjects:
            subjects[p.identity] = render_subject(identities[p.identity], config.frame_size(p.dataset))
    return config, plans, subjects


def _peak(field: np.ndarray) -> float:
    return float(np.sqrt((field.astype(np.float64) ** 2).sum(-1)).max())


def test_micro_amplitude_within_bounds_and_macro_larger(default_plan) -> None:  # type: ignore[no-untyped-def]
    _, plans, subjects = default_plan
    micro, macro = [], []
    for p in plans:
        subject = subjects[p.identity]
        peak = _peak(expression_field(p, subject)) * REFERENCE_FACE_PX / subject.face_width
        (macro if p.dataset == "ck" else micro).append(peak)
    micro_a, macro_a = np.array(micro), np.array(macro)
    assert micro_a.min() >= 0.3 - 1e-3 and micro_a.max() <= 2.0 + 1e-3
    assert np.mean(micro_a < 0.45) > 0.05  # some clips near the noise floor
    assert macro_a.min() >= 4.0 - 1e-3 and macro_a.max() <= 8.0 + 1e-3
    assert np.median(macro_a) > 3 * np.median(micro_a)


def test_every_au_has_a_unit_peak_field_near_its_landmarks(default_plan) -> None:  # type: ignore[no-untyped-def]
    _, _, subjects = default_plan
    subject = next(iter(subjects.values()))
    shape = subject.image.shape[:2]
    for number in sorted(SUPPORTED_AUS):
        field = combination_field((ActionUnit(number),), subject.landmarks, shape)
        assert abs(_peak(field) - 1.0) < 1e-5
        y, x = np.unravel_index(np.argmax((field**2).sum(-1)), shape)
        distance = np.linalg.norm(subject.landmarks - [x, y], axis=1).min()
        assert distance < 0.15 * subject.face_width, number
    up = combination_field(parse_code("1+2"), subject.landmarks, shape)
    down = combination_field(parse_code("4"), subject.landmarks, shape)
    brow = subject.landmarks[19:25].mean(axis=0).round().astype(int)
    assert up[brow[1], brow[0], 1] < 0 < down[brow[1], brow[0], 1]  # y points down
    left_only = combination_field(parse_code("L12"), subject.landmarks, shape)
    assert _peak(left_only[:, : int(subject.landmarks[51, 0]) - 5]) < 0.05


def test_intensity_curve_shape() -> None:
    curve = intensity_curve(40, 15, residual=0.1)
    assert curve[0] == 0 and curve[15] == 1 and abs(curve[-1] - 0.1) < 1e-9
    assert np.all(np.diff(curve[:16]) >= 0) and np.all(np.diff(curve[15:]) <= 0)
    macro = intensity_curve(12, 11, macro=True)
    assert macro[0] == 0 and macro[-1] == 1


def test_subjects_are_distinct_faces_detectable_in_onset_frames(default_plan) -> None:  # type: ignore[no-untyped-def]
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition  # sets Pillow's process-wide LOAD_TRUNCATED_IMAGES to True
    ImageFile.LOAD_TRUNCATED_IMAGES = truncated  # later tests read truncated frames as errors
    config, plans, subjects = default_plan
    assert len(subjects) >= 16
    encodings = {}
    for identity in sorted(subjects):
        plan = next(p for p in plans if p.identity == identity)
        onset = render_plan(plan, subjects[identity], config.jitter_px, config.drift_px,
                            config.noise_sigma)[0]
        rgb = np.stack([onset] * 3, axis=-1) if onset.ndim == 2 else onset
        boxes = (face_recognition.face_locations(rgb, number_of_times_to_upsample=0)
                 or face_recognition.face_locations(rgb, number_of_times_to_upsample=1))
        assert boxes, f"no face in the onset frame of {plan.dataset}/{plan.subject}/{plan.clip}"
        top, right, bottom, left = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        assert 90 <= right - left <= 180
        neutral = subjects[identity].image.round().astype(np.uint8)
        found = (face_recognition.face_locations(neutral, number_of_times_to_upsample=0)
                 or face_recognition.face_locations(neutral, number_of_times_to_upsample=1))
        encodings[identity] = face_recognition.face_encodings(neutral, found[:1], model="large")[0]
    names = sorted(encodings)
    matrix = np.array([encodings[i] for i in names])
    distance = np.linalg.norm(matrix[:, None] - matrix[None], axis=-1)
    pairs = distance[np.triu_indices(len(matrix), 1)]
    micro = [k for k, i in enumerate(names) if any(p.identity == i and p.dataset != "ck"
                                                   for p in plans)]
    micro_pairs = distance[np.ix_(micro, micro)][np.triu_indices(len(micro), 1)]
    assert micro_pairs.min() > 0.25, micro_pairs.min()  # the LOSO subjects
    # the 30 macro identities come from the same few photographs: the nearest pair is closer
    assert pairs.min() > 0.2, pairs.min()
    assert np.median(pairs) > 0.5
