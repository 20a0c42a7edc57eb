"""The ``supervised`` trainer: plain cross-entropy training of a registered model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from mer.training.config import TrainConfig
from mer.training.data import FeatureSet
from mer.training.loso import FoldLike, FoldResult, run_fold
from mer.training.registry import NoOptions, register_trainer


@register_trainer("supervised")
def supervised(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
               data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
               macro: FeatureSet | None, options: NoOptions, progress: bool) -> FoldResult:
    """Plain supervised training on the fold's training subjects (macro clips unused)."""
    return run_fold(model_name, hparams, config, data, fold, init_state=init_state,
                    progress=progress)
