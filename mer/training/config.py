"""Training hyper-parameters and device choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Device = Literal["cpu", "cuda", "auto"]
Schedule = Literal["constant", "cosine"]


@dataclass(frozen=True)
class TrainConfig:
    """How to fit a model: a fixed number of epochs of AdamW on a cross-entropy loss.

    Attributes:
        epochs: passes over the training clips (fixed; never chosen on the test subject).
        batch_size: clips per optimisation step (the epoch is split into near-equal batches).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        seed: seeds the weight initialisation, batch order and augmentation.
        lr_schedule: ``"constant"``, or ``"cosine"`` annealing from ``lr`` to 0 over the epochs.
        hflip: flip half of the training clips left-right (the flow's ``u`` is negated).
        max_shift: random translation of training clips by up to this fraction of the image side
            (each axis, whole pixels at the model's input size, edges replicated); 0 = none.
        class_weighting: weight the loss by inverse class frequency of the training clips.
        device: ``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA if available, else CPU).

    Raises:
        ValueError: on construction, if a value is out of range.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    lr_schedule: Schedule = "cosine"
    hflip: bool = True
    max_shift: float = 0.05
    class_weighting: bool = True
    device: Device = "auto"

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "weight_decay": self.weight_decay >= 0,
            "max_shift": 0 <= self.max_shift < 0.5,
            "lr_schedule": self.lr_schedule in ("constant", "cosine"),
            "device": self.device in ("cpu", "cuda", "auto"),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in bad)
            raise ValueError(f"TrainConfig: out of range: {values} (epochs, batch_size >= 1; "
                             "lr > 0; weight_decay >= 0; 0 <= max_shift < 0.5; lr_schedule "
                             "constant|cosine; device cpu|cuda|auto)")


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
