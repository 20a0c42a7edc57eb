"""The ``meta_auxiliary`` trainer: dual-branch bi-level optimisation of LightmanNet
(Wang et al., "Meta-Auxiliary Learning for Micro-Expression Recognition", arXiv 2404.12024).

Level one (inner loop) adapts a copy of the weights on an episode's *support* clips with the
primary loss (cross-entropy) plus ``aux_weight`` times the auxiliary alignment loss; level two
(outer loop) updates the weights so that the adapted copy does well on the episode's *query*
clips under the primary loss alone. Every choice is written down in ``docs/lightman.md``:

- Episodes: class-balanced, drawn from the fold's training subjects only
  (:func:`sample_episode`); support and query are disjoint clips.
- Auxiliary alignment (:func:`class_prototypes`, :func:`alignment_loss`): the model's aligner
  maps a micro clip's embedding toward the prototype (mean embedding, under the current weights,
  no gradient) of the macro-expression clips *of the same emotion*; the loss is one minus their
  cosine similarity. Macro clips are standardised with their own statistics.
- Meta-gradient: through ``torch.func.functional_call`` and ``torch.autograd.grad`` on the
  adapted weights, first-order by default (``second_order: true`` back-propagates through the
  inner gradient steps). The aligner, which the query's primary loss never reaches at first
  order, is also trained on the support's alignment loss at the meta weights (embedding
  detached, so the encoder's meta-update comes from the query's primary loss only).
- ``meta: false`` is the ablation without level two: the same episodes, one joint step of the
  primary plus alignment losses on support and query together; ``use_aux: false`` drops the
  auxiliary branch (and the macro clips).

The meta weights are what predicts the held-out subject (its labels are never seen, so there is
nothing to adapt on).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from pydantic import Field
from torch.func import functional_call
from tqdm.auto import tqdm

from mer.data.schema import LABELS
from mer.models.base import MerModel, resize
from mer.training.augment import augment
from mer.training.config import TrainConfig, resolve_device
from mer.training.data import FeatureSet
from mer.training.fit import (
    FitResult,
    class_weights,
    seeded_start,
)
from mer.training.loso import FoldLike, FoldResult, FoldSplit, fit_and_predict
from mer.training.registry import TrainerOptions, register_trainer

logger = logging.getLogger(__name__)

#: Training-history records per run (one every ``episodes / HISTORY_POINTS`` episodes).
HISTORY_POINTS = 20

#: A standard deviation below this is treated as 1 when standardising the macro clips.
_MIN_STD = 1e-6


class MetaAuxOptions(TrainerOptions):
    """``trainer_options`` of ``meta_auxiliary`` (unknown keys are rejected).

    Attributes:
        episodes: outer steps (one episode each).
        inner_steps: SGD steps of the inner adaptation on the support set.
        inner_lr: learning rate of the inner SGD steps.
        outer_lr: learning rate of the outer AdamW (weight decay, schedule: ``train`` config).
        aux_weight: weight of the alignment loss beside the primary cross-entropy.
        n_support: support clips per class and episode.
        n_query: query clips per class and episode.
        second_order: back-propagate the outer loss through the inner gradient steps.
        use_aux: use the auxiliary branch (False: primary loss only, macro clips unused).
        meta: bi-level training (False: joint training of the same losses, same episodes).
    """

    episodes: int = Field(default=300, ge=1)
    inner_steps: int = Field(default=1, ge=1)
    inner_lr: float = Field(default=0.05, gt=0)
    outer_lr: float = Field(default=2e-3, gt=0)
    aux_weight: float = Field(default=0.5, ge=0)
    n_support: int = Field(default=4, ge=1)
    n_query: int = Field(default=4, ge=1)
    second_order: bool = False
    use_aux: bool = True
    meta: bool = True


def sample_episode(
    labels: np.ndarray,
    pool: np.ndarray,
    n_support: int,
    n_query: int,
    rng: np.random.Generator,
    n_classes: int = len(LABELS),
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a class-balanced episode: disjoint support and query positions from ``pool``.

    For each class with ``n`` clips in ``pool`` (shuffled): ``n_support`` support and ``n_query``
    query clips if ``n >= n_support + n_query``; otherwise the ``n`` clips are split in the same
    proportion (at least one in each part when ``n >= 2``; a lone clip goes to the support).

    Args:
        labels: ``(N,)`` int class codes of all clips.
        pool: ``(M,)`` positions the episode may draw (the fold's training clips).
        n_support: support clips per class.
        n_query: query clips per class.
        rng: source of the draws.
        n_classes: K.

    Returns:
        ``(support, query)`` int64 positions into ``labels``, each grouped by class.
    """
    support, query = [], []
    for c in range(n_classes):
        members = pool[labels[pool] == c]
        n = len(members)
        if n == 0:
            continue
        members = rng.permutation(members)
        if n >= n_support + n_query:
            n_s = n_support
        elif n == 1:
            n_s = 1
        else:
            n_s = min(max(1, round(n * n_support / (n_support + n_query))), n - 1)
        n_q = min(n_query, n - n_s)
        support.append(members[:n_s])
        query.append(members[n_s:n_s + n_q])
    as_array = lambda parts: np.concatenate(parts).astype(np.int64)  # noqa: E731
    return as_array(support), as_array(query)


def class_prototypes(
    embeddings: Tensor, labels: Tensor, n_classes: int = len(LABELS)
) -> tuple[Tensor, Tensor]:
    """Mean embedding of each class.

    Args:
        embeddings: ``(M, D)`` macro-clip embeddings.
        labels: ``(M,)`` their class codes.
        n_classes: K.

    Returns:
        ``(K, D)`` prototypes (zero for an absent class) and ``(K,)`` bool: class present.
    """
    onehot = F.one_hot(labels, n_classes).to(embeddings.dtype)  # (M, K)
    counts = onehot.sum(dim=0)
    prototypes = onehot.T @ embeddings / counts.clamp(min=1).unsqueeze(1)
    return prototypes, counts > 0


def alignment_loss(aligned: Tensor, labels: Tensor, prototypes: Tensor, present: Tensor) -> Tensor:
    """Mean ``1 - cos(aligned_i, prototypes[labels_i])`` over clips whose class has a prototype.

    Each micro clip is compared only with the prototype of its own class, i.e. only with macro
    clips of the same emotion.

    Args:
        aligned: ``(B, D)`` aligner outputs of micro clips.
        labels: ``(B,)`` their class codes.
        prototypes: ``(K, D)`` macro prototypes (see :func:`class_prototypes`).
        present: ``(K,)`` bool, which prototypes exist.

    Returns:
        A scalar in ``[0, 2]`` (0 with a zero gradient when no clip's class has a prototype).
    """
    keep = present[labels]
    if not bool(keep.any()):
        return aligned.sum() * 0.0
    cosine = F.cosine_similarity(aligned[keep], prototypes[labels[keep]], dim=1)
    return (1.0 - cosine).mean()


@register_trainer("meta_auxiliary", options=MetaAuxOptions)
def meta_auxiliary(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
                   data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
                   macro: FeatureSet | None, options: MetaAuxOptions,
                   progress: bool) -> FoldResult:
    """Meta-auxiliary training on the fold's training subjects; predict its test subject.

    Of ``config`` it uses ``seed``,
    ``weight_decay``, ``lr_schedule`` (of the outer learning rate), ``hflip``, ``max_shift`` and
    ``device`` (``epochs``, ``lr``, ``batch_size`` and ``class_weighting`` belong to the other
    trainers: episodes are class-balanced).

    Raises:
        ValueError: a model without an ``aligner`` head when the auxiliary branch is on, or no
            macro clips when it is on.
    """

    def fit_model(model: MerModel, split: FoldSplit, desc: str) -> FitResult:
        return meta_fit(model, data, split.train, config, options, macro=macro, val=split.val,
                        init_state=init_state, progress=progress, progress_desc=desc)

    return fit_and_predict(model_name, hparams, data, fold, config.device, fit_model)


def meta_fit(
    model: MerModel,
    data: FeatureSet,
    train: np.ndarray,
    config: TrainConfig,
    options: MetaAuxOptions,
    *,
    macro: FeatureSet | None,
    val: np.ndarray | None = None,
    init_state: dict[str, Tensor] | None = None,
    progress: bool = False,
    progress_desc: str = "meta_fit",
) -> FitResult:
    """Train ``model`` in place by meta-auxiliary learning on the clips ``data[train]``.

    Seeded and deterministic like :func:`mer.training.fit.fit`: weights from ``config.seed`` (or
    ``init_state``), input statistics from the training clips, episodes and augmentation from a
    ``numpy`` generator seeded by ``config.seed``; the global RNG is left as it was.

    Args:
        model: a registered model with an ``aligner`` head when ``options.use_aux``
            (``lightman``); its ``forward(inputs, align=True)`` returns ``(logits, aligned)``.
        data: all clips (only ``train`` positions are ever drawn; ``val`` ones only scored).
        train: ``(M,)`` ascending positions of the training clips.
        config: seed, weight decay, outer schedule, augmentation, device.
        options: the meta-auxiliary settings.
        macro: labelled macro-expression clips (needed when ``options.use_aux``).
        val: positions of validation clips, scored in the history only.
        init_state: weights to start from.
        progress: show a tqdm bar over the episodes.
        progress_desc: the bar's label.

    Returns:
        The final weights (CPU) and a history of ``HISTORY_POINTS`` records: ``episode``,
        ``lr``, ``train_loss`` / ``train_accuracy`` (query, or joint batch without ``meta``),
        ``aux_loss`` (support alignment), and ``val_loss`` / ``val_accuracy`` with ``val``.
    """
    train = np.asarray(train, dtype=np.int64)
    if len(train) == 0:
        raise ValueError("meta_fit: no training clips")
    if np.any(np.diff(train) <= 0):
        raise ValueError("meta_fit: train positions must be strictly ascending")
    if options.use_aux:
        if macro is None or len(macro) == 0:
            raise ValueError("trainer 'meta_auxiliary' with use_aux needs the labelled "
                             "macro-expression clips (mer train --macro-flow, --macro-flow-dir)")
        if not hasattr(model, "aligner"):
            raise ValueError(f"trainer 'meta_auxiliary' with use_aux needs a model with an "
                             f"auxiliary alignment head (e.g. 'lightman'), got "
                             f"{type(model).__name__}")
    device = resolve_device(config.device)
    inputs = model.resize_inputs(data.subset(train).inputs)
    val_set = None
    if val is not None and len(val):
        val_data = data.subset(val)
        val_set = (model.resize_inputs(val_data.inputs), val_data.labels)
    with seeded_start(model, inputs, config.seed, device, init_state):
        macro_set = _standardised_macro(model, macro, device) if options.use_aux else None
        loop = _Loop(model, data.labels.numpy(), train, inputs, config, options, macro_set,
                     device)
        history = loop.run(val_set, progress=progress, desc=progress_desc)
        loop.refine()
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return FitResult(state_dict=state, history=history)


def _standardised_macro(model: MerModel, macro: FeatureSet,
                        device: torch.device) -> tuple[dict[str, Tensor], Tensor]:
    """Macro inputs resized and standardised with the macro clips' own per-channel statistics."""
    out = {}
    for key in model.input_keys:
        if key not in macro.inputs:
            raise ValueError(f"macro clips lack input {key!r} that {type(model).__name__} needs")
        x = resize(macro.inputs[key], model.input_size).to(torch.float64)
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), correction=0, keepdim=True)
        std = torch.where(std < _MIN_STD, torch.ones_like(std), std)
        out[key] = ((x - mean) / std).to(torch.float32).to(device)
    return out, macro.labels.to(device)


class _Loop:
    """The episode loop of :func:`meta_fit` (state shared by the meta and joint steps)."""

    def __init__(self, model: MerModel, labels: np.ndarray, train: np.ndarray,
                 inputs: dict[str, Tensor], config: TrainConfig, options: MetaAuxOptions,
                 macro: tuple[dict[str, Tensor], Tensor] | None, device: torch.device) -> None:
        self.model, self.labels, self.train = model, labels, train
        self.inputs = {key: x.to(device) for key, x in inputs.items()}
        self.train_labels = torch.from_numpy(labels[train]).to(device)
        self.config, self.options, self.macro, self.device = config, options, macro, device
        self.rng = np.random.default_rng(config.seed)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=options.outer_lr,
                                           weight_decay=config.weight_decay)
        self.scheduler = None
        if config.lr_schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=options.episodes)

    def run(self, val: tuple[dict[str, Tensor], Tensor] | None, *, progress: bool,
            desc: str) -> list[dict[str, float]]:
        every = max(1, math.ceil(self.options.episodes / HISTORY_POINTS))
        history, window = [], []
        bar = tqdm(range(1, self.options.episodes + 1), desc=desc, disable=not progress,
                   leave=True, dynamic_ncols=True, unit="episode")
        for episode in bar:
            lr = self.optimizer.param_groups[0]["lr"]
            support, query = sample_episode(self.labels, self.train, self.options.n_support,
                                            self.options.n_query, self.rng)
            step = self._meta_step if self.options.meta else self._joint_step
            window.append(step(self._local(support), self._local(query)))
            if self.scheduler is not None:
                self.scheduler.step()
            if episode % every == 0 or episode == self.options.episodes:
                record = {"episode": float(episode), "lr": lr,
                          **{k: float(np.mean([w[k] for w in window])) for k in window[0]}}
                if val is not None:
                    record["val_loss"], record["val_accuracy"] = self._evaluate(*val)
                history.append(record)
                window = []
                bar.set_postfix({k: f"{v:.3f}" for k, v in record.items()
                                 if k.endswith(("loss", "accuracy"))})
                logger.debug("%s episode %d: %s", desc, episode, record)
        return history

    def _local(self, positions: np.ndarray) -> Tensor:
        """Positions in the whole data -> positions in the training tensors."""
        return torch.from_numpy(np.searchsorted(self.train, positions)).to(self.device)

    def _batch(self, local: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        x, _ = augment({key: v[local] for key, v in self.inputs.items()}, self.rng,
                       flip=self.config.hflip, max_shift=self.config.max_shift)
        return x, self.train_labels[local]

    @torch.no_grad()
    def _prototypes(self) -> tuple[Tensor, Tensor] | None:
        """Macro class prototypes under the current (meta) weights, without gradient."""
        if self.macro is None:
            return None
        inputs, labels = self.macro
        was_training = self.model.training
        self.model.eval()
        embeddings = self.model.embed(inputs)
        self.model.train(was_training)
        return class_prototypes(embeddings, labels)

    def _losses(self, params: dict[str, Tensor], x: dict[str, Tensor], y: Tensor,
                protos: tuple[Tensor, Tensor] | None,
                weight: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(primary cross-entropy, alignment loss, logits) under ``params``."""
        buffers = dict(self.model.named_buffers())
        if protos is None:
            logits = functional_call(self.model, (params, buffers), (x,))
            return F.cross_entropy(logits, y, weight=weight), logits.new_zeros(()), logits
        logits, aligned = functional_call(self.model, (params, buffers), (x,), {"align": True})
        return (F.cross_entropy(logits, y, weight=weight), alignment_loss(aligned, y, *protos),
                logits)

    def _adapt(self, x: dict[str, Tensor], y: Tensor, protos: tuple[Tensor, Tensor] | None,
               *, create_graph: bool,
               weight: Tensor | None = None) -> tuple[dict[str, Tensor], Tensor]:
        """Level one: ``inner_steps`` SGD steps of primary + alignment loss from the meta weights.

        ``weight`` weights the cross-entropy by class (None: unweighted, episodes are balanced).
        Returns the adapted weights (functions of the meta weights; detached steps unless
        ``create_graph``) and the alignment loss at the first step.
        """
        opts = self.options
        fast = dict(self.model.named_parameters())
        aux_first = None
        for _ in range(opts.inner_steps):
            primary, aux, _ = self._losses(fast, x, y, protos, weight)
            if aux_first is None:
                aux_first = aux
            names = [n for n, p in fast.items() if p.requires_grad]
            grads = torch.autograd.grad(primary + opts.aux_weight * aux,
                                        [fast[n] for n in names],
                                        create_graph=create_graph, allow_unused=True)
            fast = {**fast, **{n: fast[n] - opts.inner_lr * g
                               for n, g in zip(names, grads, strict=True) if g is not None}}
        return fast, aux_first

    def _meta_step(self, support: Tensor, query: Tensor) -> dict[str, float]:
        """Inner adaptation on the support set, outer update on the query's primary loss."""
        opts, model = self.options, self.model
        model.train()
        protos = self._prototypes()
        xs, ys = self._batch(support)
        xq, yq = self._batch(query)
        fast, aux_first = self._adapt(xs, ys, protos, create_graph=opts.second_order)
        outer, _, logits = self._losses(fast, xq, yq, None)
        loss = outer
        aux_value = 0.0
        if protos is not None:
            # The aligner at the meta weights learns the support's alignment (embedding
            # detached); at first order the query's primary loss never reaches it.
            with torch.no_grad():
                z = model.features(xs)
            loss = loss + opts.aux_weight * alignment_loss(model.aligner(z), ys, *protos)
            aux_value = float(aux_first.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"train_loss": float(outer.detach()),
                "train_accuracy": float((logits.argmax(dim=1) == yq).float().mean()),
                "aux_loss": aux_value}

    def refined(self) -> dict[str, Tensor]:
        """The weights that predict: with ``meta``, the meta weights adapted (level one, no
        augmentation) on all the training clips, the cross-entropy weighted by inverse class
        frequency so the step sees balanced classes as the episodes do; without, the trained
        weights."""
        params = dict(self.model.named_parameters())
        if not self.options.meta:
            return {n: p.detach() for n, p in params.items()}
        self.model.train()
        weight = class_weights(self.train_labels).to(self.device)
        with torch.enable_grad():
            fast, _ = self._adapt(self.inputs, self.train_labels, self._prototypes(),
                                  create_graph=False, weight=weight)
        return {n: p.detach() for n, p in fast.items()}

    def refine(self) -> None:
        """Write :meth:`refined` into the model."""
        with torch.no_grad():
            for name, value in self.refined().items():
                self.model.get_parameter(name).copy_(value)

    def _joint_step(self, support: Tensor, query: Tensor) -> dict[str, float]:
        """No level two: one step of primary + alignment loss on support and query together."""
        model = self.model
        model.train()
        protos = self._prototypes()
        x, y = self._batch(torch.cat([support, query]))
        primary, aux, logits = self._losses(dict(model.named_parameters()), x, y, protos)
        self.optimizer.zero_grad(set_to_none=True)
        (primary + self.options.aux_weight * aux).backward()
        self.optimizer.step()
        return {"train_loss": float(primary.detach()),
                "train_accuracy": float((logits.argmax(dim=1) == y).float().mean()),
                "aux_loss": float(aux.detach())}

    def _evaluate(self, inputs: dict[str, Tensor], labels: Tensor) -> tuple[float, float]:
        """(cross-entropy, accuracy) of the :meth:`refined` weights on validation clips."""
        params = self.refined()
        buffers = dict(self.model.named_buffers())
        self.model.eval()
        with torch.no_grad():
            x = {key: v.to(self.device) for key, v in inputs.items()}
            logits = functional_call(self.model, (params, buffers), (x,)).cpu()
        self.model.train()
        return float(F.cross_entropy(logits, labels)), float(
            (logits.argmax(dim=1) == labels).float().mean())
