"""Trainers: how one LOSO fold is fitted. params.yaml picks one per model entry (`trainer`).

A trainer takes the registered model's name and hyper-parameters, the training config, all
clips, the fold, optional initial weights and the macro-expression clips (for methods that use
them during finetuning), and returns a :class:`~mer.training.loso.FoldResult`. It must train only
on the fold's training subjects. ``supervised`` is plain cross-entropy training (:func:`run_fold`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from torch import Tensor

from mer.training.config import TrainConfig
from mer.training.data import FeatureSet
from mer.training.loso import FoldLike, FoldResult, run_fold


class Trainer(Protocol):
    """Fit one fold; see the module docstring."""

    def __call__(self, model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
                 data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
                 macro: FeatureSet | None, options: Mapping[str, Any],
                 progress: bool) -> FoldResult: ...


_TRAINERS: dict[str, Trainer] = {}


def register_trainer(name: str) -> Callable[[Trainer], Trainer]:
    """Decorator: make a trainer available to params.yaml under ``name``."""
    def add(trainer: Trainer) -> Trainer:
        if name in _TRAINERS:
            raise ValueError(f"trainer {name!r} is already registered")
        _TRAINERS[name] = trainer
        return trainer
    return add


def get_trainer(name: str) -> Trainer:
    """Return a registered trainer; an unknown name raises naming the known ones."""
    if name not in _TRAINERS:
        raise ValueError(f"unknown trainer {name!r} (known: {', '.join(sorted(_TRAINERS))})")
    return _TRAINERS[name]


@register_trainer("supervised")
def supervised(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
               data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
               macro: FeatureSet | None, options: Mapping[str, Any],
               progress: bool) -> FoldResult:
    """Plain supervised training on the fold's training subjects (macro clips unused)."""
    if options:
        raise ValueError(f"trainer 'supervised' takes no options, got {sorted(options)}")
    return run_fold(model_name, hparams, config, data, fold, init_state=init_state,
                    progress=progress)

from mer.training import meta_auxiliary  # noqa: E402, F401  (registers "meta_auxiliary")
from mer.training import contrastive  # noqa: E402, F401  (registers "contrastive")
