"""One leave-one-subject-out fold: split by subject, fit on the training subjects, predict the
held-out one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from torch import Tensor

from mer.models.base import MerModel
from mer.models.registry import create_model
from mer.training.config import TrainConfig
from mer.training.data import FeatureSet
from mer.training.fit import FitResult, fit, predict

logger = logging.getLogger(__name__)

#: How a trainer fits a fresh model on one fold: ``(model, split, progress label) -> result``.
FitFold = Callable[[MerModel, "FoldSplit", str], FitResult]


class FoldLike(Protocol):
    """What :func:`run_fold` needs of a fold (``mer.evaluation.folds.Fold`` has it)."""

    @property
    def index(self) -> int: ...

    @property
    def test_subject(self) -> str: ...

    @property
    def train_subjects(self) -> tuple[str, ...]: ...

    @property
    def val_subjects(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, eq=False)
class FoldSplit:
    """Clip positions (``(M,)`` int64, ascending) of one fold's three disjoint parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True, eq=False)
class FoldResult:
    """The outcome of one fold.

    Attributes:
        fold_index: the fold's index.
        test_subject: the held-out subject key.
        test_indices: ``(M,)`` positions in the FeatureSet of the test clips, row-aligned with
            ``probs``.
        probs: ``(M, 3)`` float32 class probabilities (negative, positive, surprise).
        state_dict: the fitted weights and input statistics (CPU).
        history: per-epoch training (and validation) metrics, see ``FitResult.history``.
        train_indices: positions of the clips trained on.
        val_indices: positions of the validation clips (may be empty).
    """

    fold_index: int
    test_subject: str
    test_indices: np.ndarray
    probs: np.ndarray
    state_dict: dict[str, Tensor]
    history: list[dict[str, float]]
    train_indices: np.ndarray
    val_indices: np.ndarray


def split_fold(data: FeatureSet, fold: FoldLike) -> FoldSplit:
    """Return the clip positions of the fold's training, validation and test subjects.

    Raises:
        ValueError: if the three subject sets overlap, or a subject of the fold has no clip in
            ``data``, or there is no training clip.
    """
    parts = {"train": set(fold.train_subjects), "val": set(fold.val_subjects),
             "test": {fold.test_subject}}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        common = sorted(parts[a] & parts[b])
        if common:
            raise ValueError(f"fold {fold.index}: {a} and {b} subjects overlap: {common}")
    known = set(data.subjects.tolist())
    absent = sorted(set().union(*parts.values()) - known)
    if absent:
        raise ValueError(f"fold {fold.index}: subject(s) {absent[:5]} have no clip in the "
                         f"FeatureSet ({len(known)} subjects)")
    split = FoldSplit(*(data.subject_indices(sorted(parts[p])) for p in ("train", "val", "test")))
    if len(split.train) == 0:
        raise ValueError(f"fold {fold.index}: no training clips")
    return split


def run_fold(
    model_name: str,
    hparams: Mapping[str, Any],
    train_config: TrainConfig,
    data: FeatureSet,
    fold: FoldLike,
    *,
    init_state: dict[str, Tensor] | None = None,
    progress: bool = False,
) -> FoldResult:
    """Fit a fresh ``model_name`` on the fold's training subjects and predict its test subject.

    Args:
        model_name: a registered model (``mer.models.list_models()``).
        hparams: the model's hyper-parameters.
        train_config: how to fit.
        data: all clips; the fold picks its subjects from ``data.subjects``.
        fold: the fold (``index``, ``test_subject``, ``train_subjects``, ``val_subjects``).
        init_state: weights to start from (transfer learning), see ``fit``.
        progress: show a tqdm bar for this fold.

    Returns:
        The fold's test probabilities with their clip positions, the weights and history.

    Raises:
        ValueError: see :func:`split_fold`, ``create_model`` and ``fit``.
    """
    def fit_model(model: MerModel, split: FoldSplit, desc: str) -> FitResult:
        val = data.subset(split.val) if len(split.val) else None
        return fit(model, data.subset(split.train), train_config, val=val,
                   init_state=init_state, progress=progress, progress_desc=desc)

    return fit_and_predict(model_name, hparams, data, fold, train_config.device, fit_model)


def fit_and_predict(model_name: str, hparams: Mapping[str, Any], data: FeatureSet,
                    fold: FoldLike, device: str, fit_model: FitFold) -> FoldResult:
    """The fold runner every trainer shares: split the fold, fit a fresh ``model_name`` with
    ``fit_model(model, split, progress label)``, and predict the held-out subject on ``device``.

    Raises:
        ValueError: see :func:`split_fold` and ``create_model``, or what ``fit_model`` raises.
    """
    split = split_fold(data, fold)
    model = create_model(model_name, **hparams)
    desc = f"fold {fold.index:>2} {fold.test_subject}"
    result = fit_model(model, split, desc)
    probs = predict(model, result.state_dict, data.subset(split.test), device=device)
    logger.info("%s: %d train, %d val, %d test clips", desc, len(split.train), len(split.val),
                len(split.test))
    return FoldResult(
        fold_index=fold.index, test_subject=fold.test_subject, test_indices=split.test,
        probs=probs, state_dict=result.state_dict, history=result.history,
        train_indices=split.train, val_indices=split.val,
    )
