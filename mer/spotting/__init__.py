"""Spotting: the apex of a clip, and micro-expression intervals in long recordings.

Every spotter works on grey frames of an aligned face and removes the head's rigid motion and
the light change before it measures facial motion (:mod:`mer.spotting.rigid`).
"""

from mer.spotting.apex import (
    DEFAULT_SPOTTER,
    SPOTTERS,
    apex_posterior,
    motion_profile,
    residual_profile,
    spot_apex,
)

__all__ = ["DEFAULT_SPOTTER", "SPOTTERS", "apex_posterior", "motion_profile", "residual_profile",
           "spot_apex"]
