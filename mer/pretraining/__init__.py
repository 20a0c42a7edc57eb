"""Pretraining on macro-expression clips for micro-expression recognition. No file I/O.

- :mod:`mer.pretraining.ma2mi`: MA2MI, self-supervised future-frame reconstruction that trains
  MIACNet's encoders, and its held-out error against the copy baseline;
- :mod:`mer.pretraining.probe`: linear probe of the frozen encoders, LOSO on micro clips;
- :mod:`mer.pretraining.overlap`: keep micro-expression test subjects out of pretraining;
- :mod:`mer.pretraining.transfer`: complete a partial pretrained state into a ``fit`` init state.
"""

from mer.config import MA2MIConfig
from mer.pretraining.ma2mi import (
    MA2MIResult,
    held_out_error,
    held_out_subjects,
    prepare_clips,
    pretrain,
)
from mer.pretraining.overlap import (
    OverlapDecision,
    SubjectOverlap,
    find_overlap,
    resolve_overlap,
)
from mer.pretraining.probe import frozen_features, linear_probe, probe_fold
from mer.pretraining.transfer import complete_state, initial_state

__all__ = [
    "MA2MIConfig",
    "MA2MIResult",
    "OverlapDecision",
    "SubjectOverlap",
    "complete_state",
    "find_overlap",
    "frozen_features",
    "held_out_error",
    "held_out_subjects",
    "initial_state",
    "linear_probe",
    "prepare_clips",
    "pretrain",
    "probe_fold",
    "resolve_overlap",
]
