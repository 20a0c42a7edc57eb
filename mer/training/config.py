"""The device choice of training (the training configuration is :class:`mer.config.TrainConfig`)."""

from __future__ import annotations

from typing import Literal

import torch

from mer.config import TrainConfig

__all__ = ["Device", "TrainConfig", "resolve_device"]

Device = Literal["cpu", "cuda", "auto"]


def resolve_device(device: Device) -> torch.device:
    """Return the torch device for ``"cpu"``, ``"cuda"`` or ``"auto"``.

    Raises:
        ValueError: if ``"cuda"`` is asked for and not available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for but torch.cuda.is_available() is False; "
                         "use 'cpu' or 'auto'")
    return torch.device(device)
