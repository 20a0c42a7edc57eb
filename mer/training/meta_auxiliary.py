"""The ``meta_auxiliary`` trainer: LightmanNet's dual-branch bi-level optimisation (Wang et al.,
"Meta-Auxiliary Learning for Micro-Expression Recognition", arXiv 2404.12024) over any registered
backbone.

LightmanNet is a learning method: the params.yaml entry's ``name`` picks the backbone (the
registry model, e.g. ``micro_attention``) and ``trainer: meta_auxiliary`` trains it, so the same
backbone under ``trainer: supervised`` is its direct, paired comparison. Every choice is written
down in ``docs/lightman.md``:

- Episodes (:mod:`mer.training.episodes`): support and query clips from disjoint training
  subjects of the fold; ``sampler: balanced`` draws each episode class-balanced,
  ``sampler: pass`` presents every training clip once per pass with the cross-entropy weighted by
  inverse class frequency, as the epoch-based trainers do.
- Primary branch: the backbone's classifier, cross-entropy. Auxiliary branch
  (:mod:`mer.training.alignment`): for each micro clip, a macro clip of the same emotion; a small
  learned warp (:class:`~mer.training.alignment.MotionAligner`, predicted from the shared
  encoder's embeddings of both clips) aligns the macro motion map to the micro one; the loss is on
  the aligned maps. The aligner lives in the trainer, not in the model, and is meta-learned with it.
- Level one (inner loop): ``inner_steps`` SGD steps from the meta weights on the support's
  primary loss plus ``aux_weight`` times its alignment loss.
- Level two (outer loop): AdamW on the query's primary plus alignment loss under the adapted
  weights, through ``torch.func.functional_call``; first-order (the inner gradients are constants,
  so the gradient at the adapted weights is applied to the meta weights) or ``second_order``
  (back-propagated through the inner steps). With ``outer_support`` the outer step also adds the
  support loss's gradient at the meta weights (the first inner gradient, reused: no extra pass),
  so the meta weights learn from every clip of the episode. Both losses reach the shared encoder
  at both levels.
- ``meta: false`` (no level two): the same episodes and losses, one joint step on support and
  query together. ``use_aux: false``: no auxiliary branch, no macro clips.
- Prediction: the meta weights adapted once more (level one, no augmentation, class-weighted) on
  all the fold's training clips; the held-out subject's labels are never seen.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn
from torch.func import functional_call
from tqdm.auto import tqdm

from mer.models.base import MerModel, resize
from mer.training.alignment import MotionAligner, draw_partners, motion_maps
from mer.training.augment import augment
from mer.training.config import TrainConfig, resolve_device
from mer.training.data import FeatureSet
from mer.training.episodes import sample_episode, sample_pass
from mer.training.fit import FitResult, class_weights, evaluate, seeded_start
from mer.training.loso import FoldLike, FoldResult, FoldSplit, fit_and_predict
from mer.training.registry import TrainerOptions, register_trainer

logger = logging.getLogger(__name__)

#: Training-history records per run (one every ``episodes / HISTORY_POINTS`` episodes).
HISTORY_POINTS = 20

#: A standard deviation below this is treated as 1 when mapping the macro clips' statistics.
_MIN_STD = 1e-6

#: Macro inputs mapped to the micro statistics, their motion maps and labels.
MacroSet = tuple[dict[str, Tensor], Tensor, np.ndarray]


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
        grid: side, in pixels, of the motion maps the aligner warps.
        second_order: back-propagate the outer loss through the inner gradient steps.
        use_aux: use the auxiliary branch (False: primary loss only, macro clips unused).
        meta: bi-level training (False: joint training of the same losses, same episodes).
        outer_support: the outer step also descends the support loss at the meta weights.
        sampler: ``"balanced"`` (each episode drawn class-balanced, :func:`sample_episode`) or
            ``"pass"`` (every training clip once per pass, class-weighted loss,
            :func:`sample_pass`).
    """

    episodes: int = Field(default=100, ge=1)
    inner_steps: int = Field(default=1, ge=1)
    inner_lr: float = Field(default=0.01, gt=0)
    outer_lr: float = Field(default=2e-3, gt=0)
    aux_weight: float = Field(default=0.5, ge=0)
    n_support: int = Field(default=4, ge=1)
    n_query: int = Field(default=4, ge=1)
    grid: int = Field(default=16, ge=4)
    second_order: bool = False
    use_aux: bool = True
    meta: bool = True
    outer_support: bool = False
    sampler: Literal["balanced", "pass"] = "balanced"


@register_trainer("meta_auxiliary", options=MetaAuxOptions)
def meta_auxiliary(model_name: str, hparams: Mapping[str, Any], config: TrainConfig,
                   data: FeatureSet, fold: FoldLike, *, init_state: dict[str, Tensor] | None,
                   macro: FeatureSet | None, options: MetaAuxOptions,
                   progress: bool) -> FoldResult:
    """Meta-auxiliary training of backbone ``model_name`` on the fold's training subjects.

    Of ``config`` it uses ``seed``, ``weight_decay``, ``lr_schedule`` (of the outer learning
    rate), ``hflip``, ``max_shift`` and ``device`` (``epochs``, ``lr``, ``batch_size`` and
    ``class_weighting`` belong to the epoch-based trainers: episodes are class-balanced).

    Raises:
        ValueError: no macro clips (or macro clips without an input the backbone reads) when the
            auxiliary branch is on.
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
    ``init_state``; the aligner always from the seed), input statistics from the training clips,
    episodes, partners and augmentation from a ``numpy`` generator seeded by ``config.seed``.

    Args:
        model: any registered model (its ``features`` feed both branches).
        data: all clips (only ``train`` positions are ever drawn; ``val`` ones only scored).
        train: ``(M,)`` ascending positions of the training clips.
        config: seed, weight decay, outer schedule, augmentation, device.
        options: the meta-auxiliary settings.
        macro: labelled macro-expression clips (needed when ``options.use_aux``).
        val: positions of validation clips, scored in the history only (at the meta weights).
        init_state: backbone weights to start from.
        progress: show a tqdm bar over the episodes.
        progress_desc: the bar's label.

    Returns:
        The final backbone weights (CPU) and ``HISTORY_POINTS`` records: ``episode``, ``lr``,
        ``train_loss`` / ``train_accuracy`` (query, or joint batch without ``meta``),
        ``aux_loss`` (alignment loss of the same clips), ``val_loss`` / ``val_accuracy``.
    """
    train = np.asarray(train, dtype=np.int64)
    if len(train) == 0:
        raise ValueError("meta_fit: no training clips")
    if np.any(np.diff(train) <= 0):
        raise ValueError("meta_fit: train positions must be strictly ascending")
    if options.use_aux and (macro is None or len(macro) == 0):
        raise ValueError("trainer 'meta_auxiliary' with use_aux needs the labelled "
                         "macro-expression clips (mer train --macro-flow, --macro-flow-dir)")
    device = resolve_device(config.device)
    inputs = model.resize_inputs(data.subset(train).inputs)
    val_set = None
    if val is not None and len(val):
        val_data = data.subset(val)
        val_set = (model.resize_inputs(val_data.inputs), val_data.labels)
    with seeded_start(model, inputs, config.seed, device, init_state):
        learner = EpisodeLearner(model, data, train, inputs, config, options,
                                 macro if options.use_aux else None, device)
        history = learner.run(val_set, progress=progress, desc=progress_desc)
        learner.refine()
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return FitResult(state_dict=state, history=history)


def macro_in_micro_statistics(model: MerModel, macro: FeatureSet) -> dict[str, Tensor]:
    """Macro inputs resized and moved to the micro statistics the model's norm holds.

    Each channel is standardised with the macro clips' own statistics, then given the mean and
    standard deviation of the micro training clips, so the encoder sees macro clips on the scale
    of the clips it learns from (macro motion is several times larger).

    Raises:
        ValueError: if the macro clips lack an input the model reads.
    """
    out = {}
    for key in model.input_keys:
        if key not in macro.inputs:
            raise ValueError(f"macro clips lack input {key!r} that {type(model).__name__} reads")
        x = resize(macro.inputs[key], model.input_size).to(torch.float64)
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), correction=0, keepdim=True)
        std = torch.where(std < _MIN_STD, torch.ones_like(std), std)
        micro_mean = model.norm.get_buffer(f"{key}_mean").view(1, -1, 1, 1).cpu()
        micro_std = model.norm.get_buffer(f"{key}_std").view(1, -1, 1, 1).cpu()
        out[key] = ((x - mean) / std * micro_std + micro_mean).to(torch.float32)
    return out


class _DualBranch(nn.Module):
    """The backbone (shared encoder and primary head) and the aligner, one parameter set."""

    def __init__(self, backbone: MerModel, aligner: MotionAligner | None) -> None:
        super().__init__()
        self.backbone = backbone
        self.aligner = aligner

    def forward(self, x: dict[str, Tensor],
                pairs: tuple[Tensor, dict[str, Tensor], Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        """Logits ``(B, 3)`` and the mean alignment loss (0 without ``pairs``).

        ``pairs``: ``(keep (B,) bool, macro inputs of the kept clips' partners, their micro
        maps, their macro maps)``.
        """
        z = self.backbone.features(x)
        logits = self.backbone.classifier(z)
        if pairs is None or self.aligner is None:
            return logits, logits.new_zeros(())
        keep, macro_x, micro_maps, macro_maps = pairs
        z_macro = self.backbone.features(macro_x)
        return logits, self.aligner(z[keep], z_macro, micro_maps, macro_maps).mean()


class EpisodeLearner:
    """The episode loop of :func:`meta_fit`: levels one and two, the joint ablation, refinement.

    Args:
        model: the backbone, already reset, normalised and on ``device``.
        data: all clips (labels and subjects are read at ``train`` positions only).
        train: ``(M,)`` ascending positions of the training clips.
        inputs: the training clips' inputs resized to the model's input size.
        config: seed, weight decay, schedule, augmentation.
        options: the meta-auxiliary settings.
        macro: the macro clips, or None without the auxiliary branch.
        device: where to train.
    """

    def __init__(self, model: MerModel, data: FeatureSet, train: np.ndarray,
                 inputs: dict[str, Tensor], config: TrainConfig, options: MetaAuxOptions,
                 macro: FeatureSet | None, device: torch.device) -> None:
        self.model, self.train, self.device = model, train, device
        self.config, self.options = config, options
        self.labels = data.labels.numpy()
        self.subjects = data.subjects
        self.inputs = {key: x.to(device) for key, x in inputs.items()}
        self.train_labels = torch.from_numpy(self.labels[train]).to(device)
        self.rng = np.random.default_rng(config.seed)
        self.weight = (class_weights(self.train_labels).to(device)
                       if options.sampler == "pass" else None)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.macro: MacroSet | None = None
        aligner = None
        if macro is not None:
            self.macro = ({k: v.to(device) for k, v in
                           macro_in_micro_statistics(model, macro).items()},
                          motion_maps(macro.inputs["flow"], options.grid).to(device),
                          macro.labels.numpy())
            with torch.no_grad():
                model.eval()
                dim = model.features({k: v[:2] for k, v in self.inputs.items()}).shape[1]
            aligner = MotionAligner(dim).to(device)
        self.net = _DualBranch(model, aligner)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=options.outer_lr,
                                           weight_decay=config.weight_decay)
        self.scheduler = None
        if config.lr_schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=options.episodes)

    def run(self, val: tuple[dict[str, Tensor], Tensor] | None, *, progress: bool,
            desc: str) -> list[dict[str, float]]:
        """Train for ``options.episodes`` episodes; return the history (see :func:`meta_fit`)."""
        every = max(1, math.ceil(self.options.episodes / HISTORY_POINTS))
        history, window = [], []
        bar = tqdm(range(1, self.options.episodes + 1), desc=desc, disable=not progress,
                   leave=True, dynamic_ncols=True, unit="episode")
        for episode in bar:
            lr = self.optimizer.param_groups[0]["lr"]
            support, query = self.next_episode()
            step = self.meta_step if self.options.meta else self.joint_step
            window.append(step(self.local(support), self.local(query)))
            if self.scheduler is not None:
                self.scheduler.step()
            if episode % every == 0 or episode == self.options.episodes:
                record = {"episode": float(episode), "lr": lr,
                          **{k: float(np.mean([w[k] for w in window])) for k in window[0]}}
                if val is not None:
                    record["val_loss"], record["val_accuracy"] = evaluate(self.model, *val,
                                                                          self.device)
                    self.net.train()
                history.append(record)
                window = []
                bar.set_postfix({k: f"{v:.3f}" for k, v in record.items()
                                 if k.endswith(("loss", "accuracy"))})
                logger.debug("%s episode %d: %s", desc, episode, record)
        return history

    def next_episode(self) -> tuple[np.ndarray, np.ndarray]:
        """The next ``(support, query)`` positions of the configured ``sampler``."""
        args = (self.labels, self.subjects, self.train, self.options.n_support,
                self.options.n_query, self.rng)
        if self.options.sampler == "balanced":
            return sample_episode(*args)
        if not self.pending:
            self.pending = sample_pass(*args)[::-1]
        return self.pending.pop()

    def local(self, positions: np.ndarray) -> Tensor:
        """Positions in the whole data -> positions in the training tensors."""
        return torch.from_numpy(np.searchsorted(self.train, positions)).to(self.device)

    def losses(self, params: dict[str, Tensor], local: Tensor, *, augmented: bool = True,
               weight: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(primary cross-entropy, alignment loss, logits) of training clips under ``params``.

        Args:
            params: parameters of the dual-branch network (meta or adapted weights).
            local: ``(B,)`` positions in the training tensors.
            augmented: flip and shift the clips (training) or not (refinement).
            weight: ``(3,)`` class weights of the cross-entropy (None: unweighted).
        """
        x = {key: v[local] for key, v in self.inputs.items()}
        if augmented:
            x, _ = augment(x, self.rng, flip=self.config.hflip, max_shift=self.config.max_shift)
        y = self.train_labels[local]
        logits, aux = functional_call(self.net, params, (x, self._pairs(x, y)))
        return F.cross_entropy(logits, y, weight=weight), aux, logits

    def _pairs(self, x: dict[str, Tensor], y: Tensor
               ) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor] | None:
        """Each clip's macro partner of the same emotion (:func:`draw_partners`), or None."""
        if self.macro is None:
            return None
        macro_inputs, macro_maps, macro_labels = self.macro
        partners = draw_partners(y.cpu().numpy(), macro_labels, self.rng)
        keep = partners >= 0
        if not keep.any():
            return None
        chosen = torch.from_numpy(partners[keep]).to(self.device)
        keep_t = torch.from_numpy(keep).to(self.device)
        micro_maps = motion_maps(x["flow"][keep_t], self.options.grid)
        return (keep_t, {k: v[chosen] for k, v in macro_inputs.items()}, micro_maps,
                macro_maps[chosen])

    def adapt(self, local: Tensor, *, create_graph: bool, augmented: bool = True,
              weight: Tensor | None = None) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Level one: ``inner_steps`` SGD steps of primary + alignment loss from the meta weights.

        Returns:
            The adapted weights (functions of the meta weights: through the inner gradients
            with ``create_graph``, with the inner gradients as constants otherwise), and the
            first step's gradient (at the meta weights), detached, by parameter name.
        """
        fast = dict(self.net.named_parameters())
        first: dict[str, Tensor] | None = None
        for _ in range(self.options.inner_steps):
            primary, aux, _ = self.losses(fast, local, augmented=augmented, weight=weight)
            names = list(fast)
            grads = torch.autograd.grad(primary + self.options.aux_weight * aux,
                                        [fast[n] for n in names], create_graph=create_graph,
                                        allow_unused=True)
            if first is None:
                first = {n: g.detach() for n, g in zip(names, grads, strict=True)
                         if g is not None}
            fast = {n: fast[n] if g is None else fast[n] - self.options.inner_lr * g
                    for n, g in zip(names, grads, strict=True)}
        assert first is not None  # inner_steps >= 1
        return fast, first

    def meta_step(self, support: Tensor, query: Tensor) -> dict[str, float]:
        """Adapt on the support subjects, update the meta weights on the query subjects."""
        self.net.train()
        fast, support_grads = self.adapt(support, create_graph=self.options.second_order,
                                         weight=self.weight)
        primary, aux, logits = self.losses(fast, query, weight=self.weight)
        return self._update(primary, aux, logits, self.train_labels[query],
                            support_grads if self.options.outer_support else None)

    def joint_step(self, support: Tensor, query: Tensor) -> dict[str, float]:
        """No level two: one step of primary + alignment loss on support and query together."""
        self.net.train()
        both = torch.cat([support, query])
        primary, aux, logits = self.losses(dict(self.net.named_parameters()), both,
                                           weight=self.weight)
        return self._update(primary, aux, logits, self.train_labels[both])

    def _update(self, primary: Tensor, aux: Tensor, logits: Tensor, labels: Tensor,
                extra_grads: dict[str, Tensor] | None = None) -> dict[str, float]:
        """One AdamW step on ``primary + aux_weight * aux`` (plus ``extra_grads``, by name)."""
        self.optimizer.zero_grad(set_to_none=True)
        (primary + self.options.aux_weight * aux).backward()
        for name, grad in (extra_grads or {}).items():
            param = self.net.get_parameter(name)
            param.grad = grad.clone() if param.grad is None else param.grad + grad
        self.optimizer.step()
        return {"train_loss": float(primary.detach()),
                "train_accuracy": float((logits.argmax(dim=1) == labels).float().mean()),
                "aux_loss": float(aux.detach())}

    def refine(self) -> None:
        """With ``meta``: write into the backbone the meta weights adapted (level one, no
        augmentation) on all the training clips, the cross-entropy weighted by inverse class
        frequency so the step sees balanced classes as the episodes do. Without: nothing."""
        if not self.options.meta:
            return
        self.net.train()
        everything = torch.arange(len(self.train), device=self.device)
        weight = class_weights(self.train_labels).to(self.device)
        fast, _ = self.adapt(everything, create_graph=False, augmented=False, weight=weight)
        with torch.no_grad():
            for name, value in fast.items():
                self.net.get_parameter(name).copy_(value)
