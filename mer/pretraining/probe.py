"""Linear probe of a MIACNet's pretrained parts: frozen encoder features -> logistic regression,
leave-one-subject-out on the labelled micro-expression clips. Pure library: no file I/O.

For each fold the encoders are frozen; only what adapts to any new corpus without labels is
refitted on the fold's *training* clips: the input standardisation (as ``fit`` does) and the
batch-norm running statistics (one pass in training mode with a cumulative average, so the
encoders see micro-expression differences at the scale they normalise to, not at the macro
scale they were pretrained on). The features (:meth:`MIACNet.encoder_features`: pooled gated
action and position maps, no flow branch) are standardised with the training clips' statistics
and fed to :func:`mer.training.logistic.fit_linear` (class-balanced, L2, ``flow_logreg``'s
solver and default ``c``). Comparing two states (MA2MI against a random initialisation) in the
same folds gives paired predictions for :func:`mer.evaluation.paired.paired_difference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from mer.data.schema import LABELS
from mer.evaluation.folds import Fold
from mer.models.miacnet import MIACNet
from mer.training.data import FeatureSet
from mer.training.logistic import LogisticOptions, fit_linear


@torch.no_grad()
def frozen_features(model: MIACNet, state: Mapping[str, Tensor], data: FeatureSet,
                    train: np.ndarray) -> Tensor:
    """Features of every clip of ``data`` under ``state``, statistics from the ``train`` clips.

    Args:
        model: the MIACNet ``state`` belongs to (its weights are overwritten).
        state: a full MIACNet state dict.
        data: the clips (MIACNet's inputs; the flow branch is not used).
        train: ``(M,)`` positions of the training clips.

    Returns:
        ``(N, 2 * widths[-1])`` float32 features.
    """
    model.load_state_dict(dict(state))
    inputs = model.resize_inputs(data.inputs)
    index = torch.from_numpy(np.asarray(train, dtype=np.int64))
    model.norm.fit({key: x[index] for key, x in inputs.items()})
    standard = model.norm(inputs)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    model.train()
    model.encoder_features({key: x[index] for key, x in standard.items()})
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()
    return model.encoder_features(standard).float()


def probe_fold(model: MIACNet, state: Mapping[str, Tensor], data: FeatureSet, train: np.ndarray,
               test: np.ndarray, options: LogisticOptions | None = None) -> np.ndarray:
    """Fit the logistic regression on the ``train`` clips' frozen features (standardised with
    their statistics) and predict the ``test`` clips.

    Args:
        model: a MIACNet of the state's hyper-parameters; its :meth:`encoder_features` are probed.
        state: a full MIACNet state dict.
        data: the labelled clips.
        train, test: ``(M,)`` and ``(T,)`` positions in ``data``.
        options: the logistic regression's ``c`` and iterations (default: ``flow_logreg``'s).

    Returns:
        ``(T,)`` predicted class codes (``mer.data.schema.LABELS`` order).
    """
    features = frozen_features(model, state, data, train).to(torch.float64)
    mean = features[train].mean(dim=0)
    std = features[train].std(dim=0, correction=0).clamp_min(1e-6)
    z = (features - mean) / std
    weight, bias, _ = fit_linear(z[train], data.labels[train], len(LABELS),
                                 options or LogisticOptions())
    return (z[test] @ weight.T + bias).argmax(dim=1).numpy()


def linear_probe(model: MIACNet, states: Mapping[str, Mapping[str, Tensor]], data: FeatureSet,
                 folds: Sequence[Fold], options: LogisticOptions | None = None) -> pd.DataFrame:
    """LOSO predictions of a logistic regression on each state's frozen features.

    Args:
        model: a MIACNet of the states' hyper-parameters.
        states: name -> full MIACNet state dict (e.g. ``{"ma2mi": ..., "random_init": ...}``).
        data: the labelled micro-expression clips.
        folds: LOSO folds over ``data.subjects`` (validation subjects, if any, are trained on).
        options: the logistic regression's ``c`` and iterations (default: ``flow_logreg``'s).

    Returns:
        One row per state and test clip: ``entry``, ``dataset``, ``subject``, ``clip``,
        ``y_true``, ``y_pred`` (class codes in ``mer.data.schema.LABELS`` order).
    """
    rows = []
    for name, state in states.items():
        for fold in folds:
            train = data.subject_indices([*fold.train_subjects, *fold.val_subjects])
            test = data.subject_indices([fold.test_subject])
            predicted = probe_fold(model, state, data, train, test, options)
            dataset, subject = fold.test_subject.split("/", 1)
            rows += [{"entry": name, "dataset": dataset, "subject": subject,
                      "clip": str(data.clips[i]), "y_true": int(data.labels[i]),
                      "y_pred": int(p)} for i, p in zip(test, predicted, strict=True)]
    return pd.DataFrame(rows)
