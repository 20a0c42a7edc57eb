"""Trainer ``contrastive``: cross-entropy plus a cross-modal contrastive term that pulls each clip's
visual embedding toward the text embedding of its own action-unit description (Song et al.,
arXiv 2205.14643).

Per batch, with ``v_i`` the model's projection (:meth:`AttrContrastiveNet.project`) of clip ``i``
and ``t_i`` its AU-text embedding (FeatureSet input ``"au_text"``, unit vectors)::

    loss = CE(logits, y) + lambda * InfoNCE_sym(v, t; temperature)

``InfoNCE_sym`` is the CLIP loss, the mean of the visual -> text and text -> visual cross-entropies
over the similarity matrix ``v t^T / temperature``, with one change for our data: clips that share
a description (many clips are coded ``"4"``) are all positives of each other (the target row is
uniform over them), instead of being pushed apart as false negatives. Clips without a coded AU
(an all-zero ``au_text`` row: SMIC, ``"?"``) are left out of the contrastive term and still count
in the cross-entropy. ``lambda: 0`` is the ablation: it never computes the term and gives the same
weights, bit for bit, as the ``supervised`` trainer.

A horizontally flipped training clip (``TrainConfig.hflip``) is paired with the embedding of its
mirrored description (``"au_text_mirrored"``: ``R12`` -> ``L12``), so the side words stay true.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
#: Two unit text vectors with a cosine above this are the same description.
_SAME_TEXT = 1.0 - 1e-5


class ContrastiveOptions(TrainerOptions):
    """``trainer_options`` of the ``contrastive`` trainer.

    Attributes:
        lambda_: weight of the contrastive term (params.yaml spells it ``lambda``); 0 = plain CE.
        temperature: softmax temperature of the similarities (> 0).
        text_key: the FeatureSet input holding the AU-text embeddings ``(N, D)``.
        mirrored_key: the one holding the mirrored descriptions' embeddings (needed when the
            training config flips clips).
    """

    lambda_: float = Field(default=0.5, ge=0, allow_inf_nan=False, alias="lambda")
    temperature: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    text_key: str = "au_text"
    mirrored_key: str = "au_text_mirrored"


def symmetric_info_nce(visual: Tensor, text: Tensor, temperature: float) -> Tensor:
    """Symmetric (CLIP) InfoNCE between paired rows, clips sharing a text being co-positives.

    Args:
        visual: ``(B, D)`` unit vectors (the projections).
        text: ``(B, D)`` unit vectors; row ``i`` is the description of clip ``i``.
        temperature: divides the cosine similarities.

    Returns:
        The scalar mean of the visual -> text and text -> visual soft-target cross-entropies (in
        nats); 0 (with a gradient) when ``B < 2``. Swapping ``visual`` and ``text`` gives the same
        value.
    """
    if visual.shape != text.shape or visual.ndim != 2:
        raise ValueError(f"symmetric_info_nce: visual {tuple(visual.shape)} and text "
                         f"{tuple(text.shape)} must be the same (B, D)")
    if len(visual) < 2:
        return visual.sum() * 0.0
    logits = visual @ text.T / temperature
    same = (text @ text.T > _SAME_TEXT).to(logits.dtype)
    same = torch.maximum(same, torch.eye(len(text), dtype=logits.dtype, device=logits.device))
    targets = same / same.sum(dim=1, keepdim=True)  # symmetric, so it serves both directions
    to_text = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    to_visual = -(targets * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return 0.5 * (to_text + to_visual)


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
    """Train ``model`` with cross-entropy + ``lambda`` x symmetric InfoNCE for ``config.epochs``.

    The same contract as :func:`mer.training.fit.fit` (seeded re-initialisation, input statistics
    from ``data``, deterministic, global RNG state restored), and with ``lambda`` 0 the same
    result. The history adds ``train_contrastive`` (mean InfoNCE over the batches, nats) when
    ``lambda`` > 0.

    Args:
        model: a model with a ``project(embedding) -> (B, D)`` head (``attr_contrastive``).
        data: the training clips, holding ``model.input_keys`` and, if ``lambda`` > 0,
            ``options.text_key`` ``(N, D)`` (and ``options.mirrored_key`` if ``config.hflip``).
        config: the training hyper-parameters.
        options: lambda, temperature and the text keys.
        val: validation clips, reported only.
        init_state: weights to start from (see ``fit``).
        progress: show a tqdm bar over the epochs.
        progress_desc: the bar's label.

    Returns:
        The final state dict (CPU) and the per-epoch history.

    Raises:
        ValueError: if ``data`` is empty, the model has no projection head, or a text input is
            missing or of the wrong width.
    """
    if len(data) == 0:
        raise ValueError("fit_contrastive: no training clips")
    texts = _texts(model, data, config, options)
    device = resolve_device(config.device)
    inputs = model.resize_inputs(data.inputs)
    val_set = None
    if val is not None and len(val):
        val_set = (model.resize_inputs(val.inputs), val.labels)
    with seeded_start(model, inputs, config.seed, device, init_state), _no_memory_fill():
        inputs = {key: x.to(device) for key, x in inputs.items()}
        labels = data.labels.to(device)
        if texts is not None:
            texts = (texts[0].to(device), texts[1].to(device))
        weights = class_weights(labels).to(device) if config.class_weighting else None

        extra = _contrastive_term(model, texts, options) if texts is not None else None

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


def _texts(model: MerModel, data: FeatureSet, config: TrainConfig,
           options: ContrastiveOptions) -> tuple[Tensor, Tensor] | None:
    """Return (text, mirrored text) ``(N, D)`` unit rows (zeros where missing), or None (lambda 0)."""
    if options.lambda_ == 0:
        return None
    name = type(model).__name__
    if not callable(getattr(model, "project", None)):
        raise ValueError(f"trainer 'contrastive': model {name} has no projection head "
                         "(project); use attr_contrastive, or lambda 0")
    keys = [options.text_key] + ([options.mirrored_key] if config.hflip else [])
    missing = [key for key in keys if key not in data.inputs]
    if missing:
        raise ValueError(f"trainer 'contrastive': the FeatureSet has no input(s) {missing} (got "
                         f"{sorted(data.inputs)}); build it with the AU-text table (mer au-text, "
                         "mer train --au-text), or set lambda 0"
                         + ("" if options.mirrored_key in data.inputs else
                            ", or hflip false (without mirrored descriptions)"))
    text = data.inputs[options.text_key]
    mirrored = data.inputs[options.mirrored_key] if config.hflip else text
    width = getattr(model, "text_dim", text.shape[1])
    for key, x in zip(keys, (text, mirrored), strict=False):
        if x.shape[1] != width:
            raise ValueError(f"trainer 'contrastive': input {key!r} has {x.shape[1]} columns but "
                             f"{name} projects to text_dim={width}")
    return F.normalize(text, dim=1), F.normalize(mirrored, dim=1)


def _contrastive_term(model: MerModel, texts: tuple[Tensor, Tensor],
                      options: ContrastiveOptions) -> ExtraLoss:
    """The per-batch ``lambda`` x InfoNCE term; a mirrored clip is paired with its mirrored
    description. Reports the unweighted InfoNCE (history ``train_contrastive``)."""
    def term(embedding: Tensor, index: Tensor, mirrored: np.ndarray) -> tuple[Tensor, float]:
        flipped = torch.from_numpy(mirrored).to(embedding.device).unsqueeze(1)
        text = torch.where(flipped, texts[1][index], texts[0][index])
        present = text.norm(dim=1) > _MISSING_NORM
        nce = symmetric_info_nce(model.project(embedding[present]), text[present],
                                 options.temperature)
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
