"""Trainers: how one LOSO fold is fitted. params.yaml picks one per model entry (`trainer`).

A trainer takes the registered model's name and hyper-parameters, the training config, all
clips, the fold, optional initial weights and the macro-expression clips (for methods that use
them during finetuning), and returns a :class:`~mer.training.loso.FoldResult`. It must train only
on the fold's training subjects. ``supervised`` is plain cross-entropy training (:func:`run_fold`).
"""

from __future__ import annotations

import dataclasses
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
_OPTIONS: dict[str, type | None] = {}


def register_trainer(name: str, options: type | None = None) -> Callable[[Trainer], Trainer]:
    """Decorator: make a trainer available to params.yaml under ``name``.

    Args:
        name: the params.yaml ``trainer`` value.
        options: the frozen dataclass of its ``trainer_options`` (None: it takes none). A field
            named ``lambda_`` is spelled ``lambda`` in params.yaml.
    """
    def add(trainer: Trainer) -> Trainer:
        if name in _TRAINERS:
            raise ValueError(f"trainer {name!r} is already registered")
        _TRAINERS[name] = trainer
        _OPTIONS[name] = options
        return trainer
    return add


def get_trainer(name: str) -> Trainer:
    """Return a registered trainer; an unknown name raises naming the known ones."""
    if name not in _TRAINERS:
        raise ValueError(f"unknown trainer {name!r} (known: {', '.join(sorted(_TRAINERS))})")
    return _TRAINERS[name]


def resolve_options(name: str, options: Mapping[str, Any]) -> Any:
    """Build trainer ``name``'s options object from params.yaml ``trainer_options``.

    Omitted options take their defaults; an int given for a float option becomes a float.

    Returns:
        The trainer's options dataclass, or None for a trainer that takes no options.

    Raises:
        ValueError: unknown trainer, unknown option (the known ones are listed) or bad value.
    """
    get_trainer(name)
    cls = _OPTIONS[name]
    if cls is None:
        if options:
            raise ValueError(f"trainer {name!r} takes no options, got {sorted(options)}")
        return None
    known = {field.name.rstrip("_"): field for field in dataclasses.fields(cls)}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"trainer {name!r}: unknown option(s) {unknown}; known: {sorted(known)}")
    values = {}
    for key, value in options.items():
        field = known[key]
        is_float = isinstance(field.default, float) and not isinstance(value, bool)
        values[field.name] = float(value) if is_float and isinstance(value, int) else value
    return cls(**values)


def options_mapping(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Trainer ``name``'s options with every default filled in, spelled as in params.yaml."""
    resolved = resolve_options(name, options)
    if resolved is None:
        return {}
    return {field.name.rstrip("_"): getattr(resolved, field.name)
            for field in dataclasses.fields(resolved)}


@register_trainer("supervised")
def supervised(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
               data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
               macro: FeatureSet | None, options: Mapping[str, Any],
               progress: bool) -> FoldResult:
    """Plain supervised training on the fold's training subjects (macro clips unused)."""
    resolve_options("supervised", options)
    return run_fold(model_name, hparams, config, data, fold, init_state=init_state,
                    progress=progress)

from mer.training import meta_auxiliary  # noqa: E402, F401  (registers "meta_auxiliary")
from mer.training import contrastive  # noqa: E402, F401  (registers "contrastive")
from mer.training import logistic  # noqa: E402, F401  (registers "logistic")
