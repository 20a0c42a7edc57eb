"""Trainer ``contrastive``: cross-entropy plus a cross-modal contrastive term that pulls each clip's
visual embedding toward the text embeddings of the AU descriptions that match its own action units
(after Song et al., arXiv 2205.14643).

Per batch, with ``v_i`` the model's projection (:meth:`AttrContrastiveNet.project`, linear, unit
length) of clip ``i``::

    loss = CE(logits, y) + lambda * mean_i CE(softmax_k(v_i . t_k / temperature), w_i)

over the **bank** ``t_1..t_K``: every distinct AU text (as written and mirrored) of the fold's
training clips, so all of them are negatives, not only the batch's. The target ``w_i`` weights
bank text ``k`` by the Jaccard overlap of the AU sets of clip ``i`` and text ``k`` (FeatureSet
inputs ``"au_set"``, sides explicit: :mod:`mer.facs.au_sets`), normalised to sum 1: the clip's own
description has weight 1 before normalising, ``"4+7"`` for a clip coded ``"4"`` 0.5, ``"R12"`` for
``"L12"`` 0. Clips without a coded AU (an all-zero ``au_set`` row: SMIC, ``"?"``) are left out of
the term and still count in the cross-entropy. ``lambda: 0`` is the ablation: it never computes
the term and gives the same weights, bit for bit, as the ``supervised`` trainer.

A horizontally flipped training clip (``TrainConfig.hflip``) takes its mirrored AU set
(``"au_set_mirrored"``: ``R12`` -> ``L12``), and the bank holds the mirrored descriptions too.

``shuffle_texts: within_class`` is the control: before training, the clips' AU codings (text and
set, as written and mirrored) are permuted among the training clips of the same class that have
one (seeded by the training seed), so the term keeps its class information and its
regularisation but loses what ties a description to its clip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.deterministic
from pydantic import Field
from torch import Tensor

from mer.models.base import MerModel
from mer.training.config import TrainConfig, resolve_device
from mer.training.data import FeatureSet
from mer.training.fit import (
    ExtraLoss,
    FitResult,
    class_weights,
    seeded_start,
    train_epoch,
    train_epochs,
)
from mer.training.loso import FoldLike, FoldResult, FoldSplit, fit_and_predict
from mer.training.registry import TrainerOptions, register_trainer

logger = logging.getLogger(__name__)

#: A text row whose norm is below this is "no AU coded" (all zeros).
_MISSING_NORM = 1e-6
#: Seed-sequence tag of the within-class shuffle's generator (apart from the training draws).
_SHUFFLE_STREAM = 15


class ContrastiveOptions(TrainerOptions):
    """``trainer_options`` of the ``contrastive`` trainer.

    Attributes:
        lambda_: weight of the contrastive term (params.yaml spells it ``lambda``); 0 = plain CE.
        temperature: softmax temperature of the similarities (> 0).
        text_key: the FeatureSet input holding the AU-text embeddings ``(N, D)``.
        mirrored_key: the one holding the mirrored descriptions' embeddings.
        set_key: the FeatureSet input holding the AU sets ``(N, V)`` (multi-hot).
        mirrored_set_key: the one holding the mirrored AU sets.
        shuffle_texts: ``"none"``, or ``"within_class"`` (the control: codings permuted among the
            training clips of each class).
    """

    lambda_: float = Field(default=0.5, ge=0, allow_inf_nan=False, alias="lambda")
    temperature: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    text_key: str = "au_text"
    mirrored_key: str = "au_text_mirrored"
    set_key: str = "au_set"
    mirrored_set_key: str = "au_set_mirrored"
    shuffle_texts: Literal["none", "within_class"] = "none"


@dataclass(frozen=True, eq=False)
class Codings:
    """The training clips' AU codings, as written (``[0]``) and mirrored (``[1]``).

    Attributes:
        texts: ``(N, D)`` unit rows (zeros where not coded), as written and mirrored.
        sets: ``(N, V)`` 0/1 AU sets, as written and mirrored.
    """

    texts: tuple[Tensor, Tensor]
    sets: tuple[Tensor, Tensor]

    def to(self, device: torch.device) -> Codings:
        """Return the same codings on ``device``."""
        return Codings(texts=(self.texts[0].to(device), self.texts[1].to(device)),
                       sets=(self.sets[0].to(device), self.sets[1].to(device)))

    def permuted(self, order: Tensor) -> Codings:
        """Return clip ``order[i]``'s coding as clip ``i``'s (``order``: ``(N,)`` int64)."""
        return Codings(texts=(self.texts[0][order], self.texts[1][order]),
                       sets=(self.sets[0][order], self.sets[1][order]))

    def bank(self) -> tuple[Tensor, Tensor]:
        """Return the distinct coded (text ``(K, D)``, set ``(K, V)``) pairs, written and mirrored,
        in a fixed (sorted) order."""
        texts = torch.cat(self.texts)
        sets = torch.cat(self.sets)
        coded = (sets.sum(dim=1) > 0) & (texts.norm(dim=1) > _MISSING_NORM)
        rows = torch.unique(torch.cat([texts[coded], sets[coded]], dim=1), dim=0)
        return rows[:, :texts.shape[1]], rows[:, texts.shape[1]:]


def jaccard_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Jaccard overlap of every row pair of two 0/1 set matrices.

    Args:
        a: ``(B, V)`` 0/1 rows.
        b: ``(K, V)`` 0/1 rows.

    Returns:
        ``(B, K)`` ``|a_i & b_k| / |a_i | b_k|`` in [0, 1]; 0 where both sets are empty.
    """
    inter = a @ b.T
    union = a.sum(dim=1, keepdim=True) + b.sum(dim=1).unsqueeze(0) - inter
    return torch.where(union > 0, inter / union.clamp_min(1.0), torch.zeros_like(inter))


def overlap_info_nce(visual: Tensor, bank: Tensor, weights: Tensor, temperature: float) -> Tensor:
    """InfoNCE of clips against a bank of texts with soft (overlap-weighted) positives.

    Args:
        visual: ``(B, D)`` unit vectors (the projections).
        bank: ``(K, D)`` unit text vectors.
        weights: ``(B, K)`` non-negative target weights, each row with a positive sum (Jaccard
            overlaps, own text 1).
        temperature: divides the cosine similarities.

    Returns:
        The scalar mean over clips of the cross-entropy (nats) between the row-normalised
        ``weights`` and ``softmax(visual bank^T / temperature)``.

    Raises:
        ValueError: on mismatched shapes or a row of ``weights`` summing to 0.
    """
    if visual.ndim != 2 or bank.ndim != 2 or visual.shape[1] != bank.shape[1] \
            or weights.shape != (len(visual), len(bank)):
        raise ValueError(f"overlap_info_nce: visual {tuple(visual.shape)}, bank "
                         f"{tuple(bank.shape)} and weights {tuple(weights.shape)} must be (B, D), "
                         "(K, D) and (B, K)")
    totals = weights.sum(dim=1, keepdim=True)
    if bool((totals <= 0).any()):
        raise ValueError("overlap_info_nce: a clip overlaps no text of the bank (its own "
                         "coding must be in the bank)")
    log_probs = F.log_softmax(visual @ bank.T / temperature, dim=1)
    return -(weights / totals * log_probs).sum(dim=1).mean()


def shuffle_within_class(labels: Tensor, coded: Tensor, seed: int) -> Tensor:
    """A permutation that exchanges codings only among coded clips of the same class.

    Args:
        labels: ``(N,)`` int64 classes.
        coded: ``(N,)`` bool, the clips that have an AU coding (the others keep their place).
        seed: the training seed.

    Returns:
        ``(N,)`` int64 ``order``: clip ``i`` takes clip ``order[i]``'s coding.
    """
    rng = np.random.default_rng([seed, _SHUFFLE_STREAM])
    order = np.arange(len(labels))
    classes, usable = labels.cpu().numpy(), coded.cpu().numpy()
    for label in np.unique(classes):
        members = np.flatnonzero((classes == label) & usable)
        order[members] = members[rng.permutation(len(members))]
    return torch.from_numpy(order)


def fit_contrastive(
    model: MerModel,
    data: FeatureSet,
    config: TrainConfig,
    options: ContrastiveOptions,
    *,
    val: FeatureSet | None = None,
    init_state: dict[str, Tensor] | None = None,
    progress: bool = False,
    progress_desc: str = "fit",
) -> FitResult:
    """Train ``model`` with cross-entropy + ``lambda`` x the AU-overlap InfoNCE for
    ``config.epochs``.

    The same contract as :func:`mer.training.fit.fit` (seeded re-initialisation, input statistics
    from ``data``, deterministic, global RNG state restored), and with ``lambda`` 0 the same
    result. The bank of texts is built from ``data`` (the fold's training clips). The history adds
    ``train_contrastive`` (mean InfoNCE over the batches with a coded clip, nats) when
    ``lambda`` > 0.

    Args:
        model: a model with a ``project(embedding) -> (B, D)`` head (``attr_contrastive``).
        data: the training clips, holding ``model.input_keys`` and, if ``lambda`` > 0, the four
            coding inputs named by ``options`` (texts ``(N, D)``, sets ``(N, V)``).
        config: the training hyper-parameters.
        options: lambda, temperature, the input keys and the shuffle control.
        val: validation clips, reported only.
        init_state: weights to start from (see ``fit``).
        progress: show a tqdm bar over the epochs.
        progress_desc: the bar's label.

    Returns:
        The final state dict (CPU) and the per-epoch history.

    Raises:
        ValueError: if ``data`` is empty, the model has no projection head, or a coding input is
            missing or of the wrong width.
    """
    if len(data) == 0:
        raise ValueError("fit_contrastive: no training clips")
    codings = _codings(model, data, options)
    if codings is not None and options.shuffle_texts == "within_class":
        coded = codings.sets[0].sum(dim=1) > 0
        codings = codings.permuted(shuffle_within_class(data.labels, coded, config.seed))
    device = resolve_device(config.device)
    inputs = model.resize_inputs(data.inputs)
    val_set = None
    if val is not None and len(val):
        val_set = (model.resize_inputs(val.inputs), val.labels)
    with seeded_start(model, inputs, config.seed, device, init_state), _no_memory_fill():
        inputs = {key: x.to(device) for key, x in inputs.items()}
        labels = data.labels.to(device)
        weights = class_weights(labels).to(device) if config.class_weighting else None

        extra = None if codings is None else _contrastive_term(model, codings.to(device), options)

        def run_epoch(optimizer: torch.optim.Optimizer,
                      rng: np.random.Generator) -> dict[str, float]:
            metrics = train_epoch(model, inputs, labels, optimizer, config, rng, weights, extra)
            if "train_extra" in metrics:
                metrics["train_contrastive"] = metrics.pop("train_extra")
            return metrics

        history = train_epochs(model, config, device, run_epoch, val=val_set,
                               progress=progress, desc=progress_desc)
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return FitResult(state_dict=state, history=history)


@contextmanager
def _no_memory_fill() -> Iterator[None]:
    """Skip the NaN fill of new tensors that deterministic mode adds, then restore the setting.

    ``torch.utils.deterministic.fill_uninitialized_memory`` only helps find reads of
    uninitialised memory; the results are the same without it, ~15 % faster on a CPU.
    """
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = fill


def _codings(model: MerModel, data: FeatureSet, options: ContrastiveOptions) -> Codings | None:
    """Return the clips' codings (texts unit-normalised), or None (lambda 0)."""
    if options.lambda_ == 0:
        return None
    name = type(model).__name__
    if not callable(getattr(model, "project", None)):
        raise ValueError(f"trainer 'contrastive': model {name} has no projection head "
                         "(project); use attr_contrastive, or lambda 0")
    keys = [options.text_key, options.mirrored_key, options.set_key, options.mirrored_set_key]
    missing = [key for key in keys if key not in data.inputs]
    if missing:
        raise ValueError(f"trainer 'contrastive': the FeatureSet has no input(s) {missing} (got "
                         f"{sorted(data.inputs)}); build it with the AU-text table (mer au-text, "
                         "mer train --au-text), or set lambda 0")
    text, mirrored, sets, mirrored_sets = (data.inputs[key] for key in keys)
    width = getattr(model, "text_dim", text.shape[1])
    for key, x in zip(keys[:2], (text, mirrored), strict=True):
        if x.shape[1] != width:
            raise ValueError(f"trainer 'contrastive': input {key!r} has {x.shape[1]} columns but "
                             f"{name} projects to text_dim={width}")
    if sets.shape != mirrored_sets.shape:
        raise ValueError(f"trainer 'contrastive': inputs {keys[2]!r} {tuple(sets.shape)} and "
                         f"{keys[3]!r} {tuple(mirrored_sets.shape)} differ in shape")
    return Codings(texts=(F.normalize(text, dim=1), F.normalize(mirrored, dim=1)),
                   sets=(sets, mirrored_sets))


def _contrastive_term(model: MerModel, codings: Codings,
                      options: ContrastiveOptions) -> ExtraLoss:
    """The per-batch ``lambda`` x InfoNCE term against the fold's bank of texts; a mirrored clip
    takes its mirrored AU set. Reports the unweighted InfoNCE (history ``train_contrastive``);
    a batch without a coded clip has no term."""
    bank_texts, bank_sets = codings.bank()

    def term(embedding: Tensor, index: Tensor, mirrored: np.ndarray) -> tuple[Tensor, float] | None:
        flipped = torch.from_numpy(mirrored).to(embedding.device).unsqueeze(1)
        sets = torch.where(flipped, codings.sets[1][index], codings.sets[0][index])
        coded = sets.sum(dim=1) > 0
        if not bool(coded.any()):
            return None
        nce = overlap_info_nce(model.project(embedding[coded]), bank_texts,
                               jaccard_matrix(sets[coded], bank_sets), options.temperature)
        return options.lambda_ * nce, float(nce.detach())
    return term


@register_trainer("contrastive", options=ContrastiveOptions)
def contrastive(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
                data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
                macro: FeatureSet | None, options: ContrastiveOptions,
                progress: bool) -> FoldResult:
    """Cross-entropy + ``lambda`` x AU-text InfoNCE on the fold's training subjects (macro unused;
    ``lambda: 0`` is the ablation)."""
    def fit_model(model: MerModel, split: FoldSplit, desc: str) -> FitResult:
        val = data.subset(split.val) if len(split.val) else None
        return fit_contrastive(model, data.subset(split.train), config, options, val=val,
                               init_state=init_state, progress=progress, progress_desc=desc)

    return fit_and_predict(model_name, hparams, data, fold, config.device, fit_model)
