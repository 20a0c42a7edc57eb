"""A timm-style model registry: params.yaml names a model and its hyper-parameters, nothing else.

Register a model class (or any factory returning a :class:`~mer.models.base.MerModel`) with
:func:`register_model`; build it with :func:`create_model`, which rejects unknown names and unknown
hyper-parameters with the known ones listed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from mer.models.base import MerModel

FactoryT = TypeVar("FactoryT", bound=Callable[..., MerModel])

_REGISTRY: dict[str, Callable[..., MerModel]] = {}


def register_model(name: str) -> Callable[[FactoryT], FactoryT]:
    """Return a decorator that registers a model factory under ``name``.

    Args:
        name: the name params.yaml uses (lower case, e.g. ``"ststnet"``).

    Returns:
        A decorator that records the factory and returns it unchanged.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def decorate(factory: FactoryT) -> FactoryT:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name]!r})")
        _REGISTRY[name] = factory
        return factory

    return decorate


def list_models() -> list[str]:
    """Return the registered model names, sorted."""
    return sorted(_REGISTRY)


def default_hparams(name: str) -> dict[str, Any]:
    """Return the hyper-parameters of model ``name`` with their default values.

    Raises:
        ValueError: if ``name`` is not registered.
    """
    return {
        p.name: p.default
        for p in inspect.signature(_factory(name)).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def create_model(name: str, **hparams: Any) -> MerModel:
    """Build the registered model ``name`` with the given hyper-parameters.

    Args:
        name: a registered model name (see :func:`list_models`).
        **hparams: keyword arguments of the model's factory; omitted ones take their defaults.

    Returns:
        A freshly initialised model.

    Raises:
        ValueError: if ``name`` is unknown, or a hyper-parameter is not one the model takes (the
            message lists the known ones).
    """
    known = default_hparams(name)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        raise ValueError(
            f"model {name!r}: unknown hyper-parameter(s) {unknown}; "
            f"known: {sorted(known) or 'none'}"
        )
    return _factory(name)(**hparams)


def _factory(name: str) -> Callable[..., MerModel]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {list_models()}") from None
