"""The ``logistic`` trainer: a linear model fitted to convergence, for the ``flow_logreg`` baseline.

The objective is scikit-learn's ``LogisticRegression(class_weight="balanced", C=c)`` divided by
``c * N``: the class-balanced mean cross-entropy of the training clips plus
``||W||^2 / (2 * c * N)`` (the bias is not penalised). It is convex, so L-BFGS (float64, strong
Wolfe line search) from zero weights reaches the same optimum whatever the seed: the baseline has
no epochs, learning rate or initialisation to tune, only the fixed regularisation ``c``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from mer.models.base import MerModel
from mer.training.config import TrainConfig, resolve_device
from mer.training.data import FeatureSet
from mer.training.fit import FitResult, class_weights, seeded_start
from mer.training.loso import FoldLike, FoldResult, FoldSplit, fit_and_predict
from mer.training.registry import TrainerOptions, register_trainer


class LogisticOptions(TrainerOptions):
    """``trainer_options`` of ``logistic``.

    Attributes:
        c: inverse L2 regularisation strength (scikit-learn's ``C``; > 0).
        max_iter: L-BFGS iterations at most (>= 1).
    """

    c: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=200, ge=1)


def fit_linear(features: Tensor, labels: Tensor, n_classes: int, options: LogisticOptions
               ) -> tuple[Tensor, Tensor, float]:
    """Fit class-balanced L2-penalised multinomial logistic regression.

    Args:
        features: ``(N, D)`` training features.
        labels: ``(N,)`` int64 class codes.
        n_classes: K.
        options: the regularisation and the iteration budget.

    Returns:
        ``weight (K, D)``, ``bias (K,)`` (float64) and the final objective value.
    """
    x = features.to(torch.float64)
    weights = class_weights(labels, n_classes).to(torch.float64)
    weight = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    penalty = 1.0 / (2.0 * options.c * len(labels))
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=options.max_iter,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                                  tolerance_change=1e-12)

    def objective() -> Tensor:
        loss = F.cross_entropy(x @ weight.T + bias, labels, weight=weights, reduction="none")
        return loss.mean() + penalty * weight.pow(2).sum()

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = objective()
        value.backward()
        return value

    optimizer.step(closure)
    with torch.no_grad():
        return weight.detach(), bias.detach(), float(objective())


def fit_logistic(model: MerModel, train: FeatureSet, config: TrainConfig,
                 options: LogisticOptions) -> FitResult:
    """Fit ``model``'s linear classifier on its (standardised) features of the training clips.

    ``model.classifier`` must be one ``nn.Linear`` and the model's only trainable part
    (``flow_logreg``'s features are a fixed downsampling). History: one record, the objective.
    """
    others = [name for name, _ in model.named_parameters() if not name.startswith("classifier.")]
    if not isinstance(model.classifier, nn.Linear) or others:
        raise ValueError(f"trainer 'logistic' fits a linear classifier on fixed features; "
                         f"{type(model).__name__} has {type(model.classifier).__name__} and "
                         f"{len(others)} other trainable tensors")
    device = resolve_device(config.device)
    inputs = model.resize_inputs(train.inputs)
    with seeded_start(model, inputs, config.seed, device, init_state=None), torch.no_grad():
        model.eval()
        features = model.features({k: v.to(device) for k, v in inputs.items()}).cpu()
    with torch.enable_grad():
        weight, bias, value = fit_linear(features, train.labels, model.classifier.out_features,
                                         options)
    with torch.no_grad():
        model.classifier.weight.copy_(weight.to(model.classifier.weight.dtype))
        model.classifier.bias.copy_(bias.to(model.classifier.bias.dtype))
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return FitResult(state_dict=state, history=[{"objective": value}])


@register_trainer("logistic", options=LogisticOptions)
def logistic(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
             data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
             macro: FeatureSet | None, options: LogisticOptions,
             progress: bool) -> FoldResult:
    """Logistic regression on the fold's training subjects (of ``config`` only ``seed`` and
    ``device`` are used; no pretraining, no macro clips)."""
    if init_state is not None:
        raise ValueError("trainer 'logistic' fits from zero weights; pretraining does not apply")
    def fit_model(model: MerModel, split: FoldSplit, desc: str) -> FitResult:
        return fit_logistic(model, data.subset(split.train), config, options)

    return fit_and_predict(model_name, hparams, data, fold, config.device, fit_model)
