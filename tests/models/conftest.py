"""Shared model-test inputs: seeded random clips of any batch and size."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

ModelInputs = Callable[..., dict[str, torch.Tensor]]


def _model_inputs(batch: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``flow`` (B, 3, S, S) standard normal, ``apex`` and ``onset`` (B, 1, S, S) in [0, 1);
    the sequences ``frames`` (B, 3, 4, S, S) in [0, 1) and ``flows`` (B, 2, 3, S, S) normal."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "flow": torch.randn(batch, 3, size, size, generator=generator),
        "apex": torch.rand(batch, 1, size, size, generator=generator),
        "onset": torch.rand(batch, 1, size, size, generator=generator),
        "frames": torch.rand(batch, 3, 4, size, size, generator=generator),
        "flows": torch.randn(batch, 2, 3, size, size, generator=generator),
    }


@pytest.fixture
def model_inputs() -> ModelInputs:
    """:func:`_model_inputs`: ``model_inputs(batch, size, seed=0)``."""
    return _model_inputs


@pytest.fixture
def n_params() -> Callable[[torch.nn.Module], int]:
    """The number of parameters of a module."""
    return lambda model: sum(p.numel() for p in model.parameters())
