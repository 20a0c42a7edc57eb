"""The trainer registry: how one LOSO fold is fitted. params.yaml picks one per model entry.

A trainer takes the registered model's name and hyper-parameters, the training config, all
clips, the fold, optional initial weights, the macro-expression clips (for methods that use them
during finetuning) and its options, and returns a :class:`~mer.training.loso.FoldResult`. It
must train only on the fold's training subjects. This module imports no trainer: each trainer
module registers itself, and ``mer.training`` imports them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError
from torch import Tensor

from mer.training.config import TrainConfig
from mer.training.data import FeatureSet
from mer.training.loso import FoldLike, FoldResult


class TrainerOptions(BaseModel):
    """Base of every trainer's ``trainer_options``: frozen, unknown keys rejected, ranges
    declared on the fields. A field may carry a params.yaml alias (``lambda`` for ``lambda_``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class NoOptions(TrainerOptions):
    """The options of a trainer that takes none."""


class Trainer(Protocol):
    """Fit one fold; see the module docstring."""

    def __call__(self, model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
                 data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
                 macro: FeatureSet | None, options: Any, progress: bool) -> FoldResult: ...


_TRAINERS: dict[str, tuple[Trainer, type[TrainerOptions]]] = {}


def register_trainer(name: str, options: type[TrainerOptions] = NoOptions
                     ) -> Callable[[Trainer], Trainer]:
    """Decorator: make a trainer available to params.yaml under ``name``.

    Args:
        name: the params.yaml ``trainer`` value.
        options: the model of its ``trainer_options`` (the trainer receives an instance).
    """
    def add(trainer: Trainer) -> Trainer:
        if name in _TRAINERS:
            raise ValueError(f"trainer {name!r} is already registered")
        _TRAINERS[name] = (trainer, options)
        return trainer
    return add


def get_trainer(name: str) -> Trainer:
    """Return a registered trainer; an unknown name raises naming the known ones."""
    if name not in _TRAINERS:
        raise ValueError(f"unknown trainer {name!r} (known: {', '.join(sorted(_TRAINERS))})")
    return _TRAINERS[name][0]


def resolve_options(name: str, options: Mapping[str, Any]) -> TrainerOptions:
    """Build trainer ``name``'s options from params.yaml ``trainer_options``.

    Raises:
        ValueError: unknown trainer, or an unknown option or a bad value, naming the key.
    """
    get_trainer(name)
    try:
        return _TRAINERS[name][1].model_validate(dict(options))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in error.errors())
        raise ValueError(f"trainer {name!r} options: {problems}") from None


def options_mapping(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Trainer ``name``'s options with every default filled in, spelled as in params.yaml."""
    return resolve_options(name, options).model_dump(by_alias=True)
