"""Fit a model on a FeatureSet and predict class probabilities: seeded, deterministic, no I/O."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from mer.data.schema import LABELS
from mer.models.base import MerModel, check_inputs
from mer.training.augment import augment
from mer.training.config import Device, TrainConfig, resolve_device
from mer.training.data import FeatureSet

logger = logging.getLogger(__name__)

#: Clips per forward pass when evaluating or predicting.
EVAL_BATCH_SIZE = 256

#: One training epoch: ``(optimizer, rng) -> {"train_loss": ..., "train_accuracy": ..., ...}``.
EpochStep = Callable[[torch.optim.Optimizer, np.random.Generator], dict[str, float]]

#: A loss term beside the cross-entropy, per batch: ``(embedding (B, D), clip positions (B,),
#: mirrored (B,) bool) -> (term added to the loss, its value for the history)``, or None when
#: the batch has no term.
ExtraLoss = Callable[[Tensor, Tensor, np.ndarray], "tuple[Tensor, float] | None"]


@dataclass(frozen=True, eq=False)
class FitResult:
    """What :func:`fit` produced.

    Attributes:
        state_dict: the final weights on the CPU, including the input normalisation statistics
            (``norm.<key>_mean`` and ``norm.<key>_std``, ``(C,)``, from the training clips).
        history: one dict per epoch: ``epoch`` (1-based), ``lr``, ``train_loss`` (mean
            cross-entropy in nats, class-weighted if configured), ``train_accuracy``, and with
            validation data ``val_loss`` (unweighted) and ``val_accuracy``.
    """

    state_dict: dict[str, Tensor]
    history: list[dict[str, float]]


#: Held while a training block has changed torch's process-wide state (deterministic flags,
#: global RNG): a second training in another thread of the process waits for it, so neither
#: sees the other's seed nor restores the other's flags.
TORCH_STATE_LOCK = threading.RLock()


@contextmanager
def deterministic_algorithms(*, warn_only: bool = False) -> Iterator[None]:
    """Enable ``torch.use_deterministic_algorithms`` inside the block (under
    :data:`TORCH_STATE_LOCK`), then restore the caller's setting.

    Args:
        warn_only: warn instead of failing on an operation without a deterministic version.
    """
    with TORCH_STATE_LOCK:
        enabled = torch.are_deterministic_algorithms_enabled()
        was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=warn_only)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(enabled, warn_only=was_warn_only)


def load_state(model: MerModel, state: dict[str, Tensor], *, source: str = "init_state") -> None:
    """Load ``state`` (e.g. from macro-expression pretraining) into ``model``.

    Args:
        model: the model to load into.
        state: a state dict of the same model and hyper-parameters.
        source: what ``state`` is, for the error message.

    Raises:
        ValueError: if the keys or shapes differ from the model's (the message lists them).
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: {tuple(state[k].shape)} != {tuple(v.shape)}"
                    for k, v in own.items() if k in state and state[k].shape != v.shape)
    if missing or unexpected or shapes:
        raise ValueError(
            f"{source} does not fit {type(model).__name__} (it must come from the same model and "
            f"hyper-parameters): missing keys {missing[:5]}, unexpected keys {unexpected[:5]}, "
            f"shape mismatches {shapes[:5]}"
        )
    model.load_state_dict(state)


def class_weights(labels: Tensor, n_classes: int = len(LABELS)) -> Tensor:
    """Return ``(n_classes,)`` float32 weights ``N / (K * N_c)``, 0 for absent classes.

    ``K`` counts the classes present, so the weights average 1 over the clips.
    """
    counts = torch.bincount(labels.cpu(), minlength=n_classes).to(torch.float32)
    present = counts > 0
    weights = torch.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def fit(
    model: MerModel,
    data: FeatureSet,
    config: TrainConfig,
    *,
    val: FeatureSet | None = None,
    init_state: dict[str, Tensor] | None = None,
    progress: bool = False,
    progress_desc: str = "fit",
) -> FitResult:
    """Train ``model`` on ``data`` for ``config.epochs`` epochs.

    The weights are re-initialised from ``config.seed`` (or loaded from ``init_state``), then the
    input statistics are set from ``data`` (resized to the model's input size), so the result
    depends only on the architecture, the data, the config and ``init_state``: on the CPU the same
    arguments give a bit-identical state dict (``torch.use_deterministic_algorithms`` is on while
    fitting; on CUDA it only warns about non-deterministic kernels). The global torch RNG state
    and the deterministic-algorithms setting are left as they were.

    Args:
        model: a registered model; trained in place (on the configured device).
        data: the training clips (holding at least ``model.input_keys``).
        config: the training hyper-parameters.
        val: validation clips (training subjects only), reported in the history, never used to
            choose anything.
        init_state: a state dict of the same model and hyper-parameters to start from (transfer
            learning); its input statistics are replaced by those of ``data``.
        progress: show a tqdm bar over the epochs.
        progress_desc: the bar's label.

    Returns:
        The final state dict (CPU) and the per-epoch history.

    Raises:
        ValueError: if ``data`` is empty or lacks an input the model needs, or ``init_state`` does
            not fit the model.
    """
    if len(data) == 0:
        raise ValueError("fit: no training clips")
    device = resolve_device(config.device)
    inputs = model.resize_inputs(data.inputs)
    val_set = None
    if val is not None and len(val):
        val_set = (model.resize_inputs(val.inputs), val.labels)
    with seeded_start(model, inputs, config.seed, device, init_state):
        inputs = {key: x.to(device) for key, x in inputs.items()}
        labels = data.labels.to(device)
        weights = class_weights(labels).to(device) if config.class_weighting else None

        def run_epoch(optimizer: torch.optim.Optimizer,
                      rng: np.random.Generator) -> dict[str, float]:
            return train_epoch(model, inputs, labels, optimizer, config, rng, weights)

        history = train_epochs(model, config, device, run_epoch, val=val_set,
                               progress=progress, desc=progress_desc)
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return FitResult(state_dict=state, history=history)


@contextmanager
def seeded_start(model: MerModel, inputs: dict[str, Tensor], seed: int, device: torch.device,
                 init_state: dict[str, Tensor] | None) -> Iterator[None]:
    """The start every trainer shares: inside the block, deterministic kernels and a private
    RNG seeded by ``seed`` (the caller's RNG and flags are restored after; other threads' training
    waits on :data:`TORCH_STATE_LOCK`), the model's weights reset from that seed (or loaded from
    ``init_state``), its input normalisation fitted on ``inputs`` (training clips only) and the
    model moved to ``device``."""
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    with deterministic_algorithms(warn_only=device.type == "cuda"), \
            torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        model.cpu().reset_parameters()
        if init_state is not None:
            load_state(model, init_state)
        model.norm.fit(inputs)
        model.to(device)
        yield


def optimizer_for(model: MerModel, config: TrainConfig) -> tuple[
        torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """AdamW with the config's learning rate and weight decay, and the cosine schedule over
    ``config.epochs`` when the config asks for it."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = None
    if config.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return optimizer, scheduler


def train_epochs(
    model: MerModel,
    config: TrainConfig,
    device: torch.device,
    run_epoch: EpochStep,
    *,
    val: tuple[dict[str, Tensor], Tensor] | None,
    progress: bool,
    desc: str,
) -> list[dict[str, float]]:
    """The epoch loop of every epoch-based trainer; return the history (see :class:`FitResult`).

    AdamW and the schedule of :func:`optimizer_for`, and one NumPy RNG seeded by ``config.seed``
    for the batches and augmentation, are handed to ``run_epoch`` once per epoch; it returns the
    epoch's training metrics (``train_loss``, ``train_accuracy``, ...). ``val`` clips are scored
    after each epoch (reported only).
    """
    optimizer, scheduler = optimizer_for(model, config)
    rng = np.random.default_rng(config.seed)
    history = []
    bar = tqdm(range(1, config.epochs + 1), desc=desc, disable=not progress, leave=True,
               dynamic_ncols=True, unit="epoch")
    for epoch in bar:
        record = {"epoch": float(epoch), "lr": optimizer.param_groups[0]["lr"],
                  **run_epoch(optimizer, rng)}
        if val is not None:
            record["val_loss"], record["val_accuracy"] = evaluate(model, *val, device)
        if scheduler is not None:
            scheduler.step()
        history.append(record)
        bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k not in ("epoch", "lr")})
        logger.debug("%s epoch %d: %s", desc, epoch, record)
    return history


def train_epoch(
    model: MerModel,
    inputs: dict[str, Tensor],
    labels: Tensor,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    rng: np.random.Generator,
    weights: Tensor | None,
    extra: ExtraLoss | None = None,
) -> dict[str, float]:
    """One pass in near-equal shuffled, augmented batches of the (class-weighted) cross-entropy
    plus, per batch, the ``extra`` term if any; every epoch-based trainer's step.

    Returns:
        ``train_loss`` (mean cross-entropy, nats), ``train_accuracy`` and, with ``extra``,
        ``train_extra`` (the mean of the values it reported over the batches that had a term).
    """
    model.train()
    n = len(labels)
    total_loss, correct, extra_total, extra_batches = 0.0, 0, 0.0, 0
    for batch in np.array_split(rng.permutation(n), math.ceil(n / config.batch_size)):
        index = torch.from_numpy(batch).to(labels.device)
        x, flipped = augment({key: v[index] for key, v in inputs.items()}, rng,
                             flip=config.hflip, max_shift=config.max_shift)
        embedding = model.features(x)
        logits = model.classifier(embedding)
        ce = F.cross_entropy(logits, labels[index], weight=weights)
        loss = ce
        term = extra(embedding, index, flipped) if extra is not None else None
        if term is not None:
            loss = ce + term[0]
            extra_total += term[1]
            extra_batches += 1
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += float(ce.detach()) * len(batch)
        correct += int((logits.argmax(dim=1) == labels[index]).sum())
    metrics = {"train_loss": total_loss / n, "train_accuracy": correct / n}
    if extra is not None:
        metrics["train_extra"] = extra_total / max(extra_batches, 1)
    return metrics


@torch.no_grad()
def _logits(model: MerModel, inputs: dict[str, Tensor], device: torch.device) -> Tensor:
    """Return ``(N, 3)`` logits on the CPU, in eval mode, in batches of :data:`EVAL_BATCH_SIZE`."""
    model.eval()
    n = len(next(iter(inputs.values())))
    chunks = [
        model({key: x[start:start + EVAL_BATCH_SIZE].to(device) for key, x in inputs.items()}).cpu()
        for start in range(0, n, EVAL_BATCH_SIZE)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, len(LABELS))


def evaluate(
    model: MerModel, inputs: dict[str, Tensor], labels: Tensor, device: torch.device
) -> tuple[float, float]:
    """Return (mean unweighted cross-entropy, accuracy) of ``model`` on the given clips."""
    logits = _logits(model, inputs, device)
    labels = labels.cpu()
    loss = float(F.cross_entropy(logits, labels))
    return loss, float((logits.argmax(dim=1) == labels).float().mean())


def predict(
    model: MerModel,
    state: dict[str, Tensor],
    data: FeatureSet,
    *,
    device: Device = "auto",
) -> np.ndarray:
    """Return class probabilities of ``data`` under ``state``.

    Args:
        model: a model of the architecture ``state`` came from (its weights are replaced).
        state: a :attr:`FitResult.state_dict` (weights and input statistics).
        data: the clips to score (holding at least ``model.input_keys``).
        device: where to run.

    Returns:
        ``(N, 3)`` float32 probabilities (negative, positive, surprise), rows summing to 1.

    Raises:
        ValueError: if ``state`` does not fit ``model`` or an input is missing.
    """
    check_inputs(model, data.inputs)
    load_state(model, state, source="state")
    target = resolve_device(device)
    model.to(target)
    inputs = {key: data.inputs[key] for key in model.input_keys}
    return torch.softmax(_logits(model, inputs, target), dim=1).numpy().astype(np.float32)
