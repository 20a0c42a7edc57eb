"""Shared test set-up: offline, quiet, and the location of the real coding sheets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: The real coding sheets live beside the project, never inside it (licence).
SHARED_ANNOTATIONS = PROJECT_ROOT.parent / "shared" / "annotations"

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(scope="session")
def shared_annotations() -> Path:
    """The folder of real coding sheets; skips the test when it is absent (a user's machine)."""
    if not SHARED_ANNOTATIONS.is_dir():
        pytest.skip(f"real coding sheets not found at {SHARED_ANNOTATIONS}")
    return SHARED_ANNOTATIONS
