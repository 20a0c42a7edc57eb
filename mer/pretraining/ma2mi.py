"""MA2MI: self-supervised pretraining by future-frame reconstruction on macro-expression clips
(after Li, Niu and Zhao, arXiv 2405.16451). Pure library: no file I/O.

Given two grey frames ``x[t-k]`` and ``x[t]`` of an aligned macro-expression clip (neutral ->
peak), the network reconstructs ``x[t+k]``. MIACNet's own encoders do the encoding (so their
weights load into it): the position encoder sees the earlier frame ``x[t-k]`` (as MIACNet's sees
the onset), the action encoder the difference ``x[t] - x[t-k]`` (as MIACNet's sees apex -
onset), the position gate fuses them; a small decoder, thrown away afterwards, upsamples the
fused map ``[A', P]`` back to the frame and predicts the *change* ``x[t+k] - x[t]``, which is
added to ``x[t]``. Its last convolution starts at zero, so training starts from "nothing moves"
(``copy_l1`` in the history) and any fall below that is motion the encoders learnt to represent.

Loss (pixel space, grey in [0, 1]): ``L1(x̂[t+k], x[t+k]) + gradient_weight *
L1(∇x̂[t+k], ∇x[t+k])`` with ``∇`` the horizontal and vertical forward differences (sharp edges of
moving brows, lids and lips count). Frames are resized to MIACNet's ``input_size``; ``k`` is drawn
uniformly from ``1..max_step`` (capped by the clip's length), ``t`` uniformly among the valid
positions, ``samples_per_clip`` triplets per clip and epoch, flipped left-right with probability
1/2 when ``hflip``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from mer.config import MA2MIConfig
from mer.models.base import resize
from mer.models.miacnet import PRETRAINED_PREFIXES, ConvEncoder, MIACNet, PositionGate
from mer.training.fit import deterministic_algorithms

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MA2MIResult:
    """What :func:`pretrain` produced.

    Attributes:
        state_dict: the pretrained encoders in MIACNet's key space (``position.*``, ``action.*``,
            ``gate.*``; CPU tensors), a partial MIACNet state: see
            ``mer.pretraining.transfer.complete_state``.
        history: one dict per epoch: ``epoch`` (1-based), ``lr``, ``loss`` (the objective),
            ``l1`` (mean absolute error of the predicted frame, grey in [0, 1]) and ``copy_l1``
            (the same for predicting no change, ``x̂[t+k] = x[t]``, on the same triplets).
        n_clips: clips trained on.
        n_triplets: triplets seen over all epochs.
    """

    state_dict: dict[str, Tensor]
    history: list[dict[str, float]]
    n_clips: int
    n_triplets: int


class FrameDecoder(nn.Module):
    """Upsample a fused map back to a one-channel frame (the predicted change).

    Args:
        widths: the encoder's widths; the decoder mirrors them (one x2 upsampling and 3 x 3
            convolution per level up to the stem's resolution, half the frame's side; the
            prediction made there is upsampled bilinearly to the frame, which halves the cost).

    Shapes: ``(B, 2 * widths[-1], h, h)`` -> ``(B, 1, h * 2 ** len(widths), ...)``.
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        widths = tuple(widths)
        channels = (widths[-1], *reversed(widths[:-1]))
        self.entry = _conv_bn_relu(2 * widths[-1], widths[-1])
        self.ups = nn.ModuleList(_conv_bn_relu(c_in, c_out)
                                 for c_in, c_out in zip(channels[:-1], channels[1:], strict=True))
        self.head = nn.Conv2d(widths[0], 1, 3, padding=1)
        self.zero_head()

    def zero_head(self) -> None:
        """Start from "nothing moves": the predicted change is 0 until the head learns."""
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Decode ``x`` ``(B, 2C, h, h)`` into ``(B, 1, H, H)``."""
        h = self.entry(x)
        for up in self.ups:
            h = up(F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False))
        return F.interpolate(self.head(h), scale_factor=2.0, mode="bilinear",
                             align_corners=False)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU())


class MA2MINet(nn.Module):
    """Future-frame reconstructor built on MIACNet's encoders and gate.

    Args:
        widths: the MIACNet's ``widths``; module names match MIACNet's (``position``,
            ``action``, ``gate``) so their state-dict keys do too.

    Shapes: ``before``, ``now`` ``(B, 1, s, s)`` grey in [0, 1] -> predicted ``x[t+k]``
    ``(B, 1, s, s)``, with ``s`` a multiple of ``2 ** len(widths)``.
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        self.position = ConvEncoder(1, widths)
        self.action = ConvEncoder(1, widths)
        self.gate = PositionGate(widths[-1])
        self.decoder = FrameDecoder(widths)

    def reset_parameters(self) -> None:
        """Re-initialise every weight (PyTorch defaults; the decoder head at zero)."""
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and callable(reset):
                reset()
        self.decoder.zero_head()

    def forward(self, before: Tensor, now: Tensor) -> Tensor:
        """Predict the frame one step ``k`` after ``now`` from ``before`` and ``now``."""
        position = self.position(before)
        gated, _ = self.gate(position, self.action(now - before))
        return now + self.decoder(torch.cat([gated, position], dim=1))


def reconstruction_loss(pred: Tensor, target: Tensor, gradient_weight: float) -> Tensor:
    """``L1(pred, target) + gradient_weight * L1(∇pred, ∇target)`` over ``(B, 1, H, W)``."""
    loss = F.l1_loss(pred, target)
    if gradient_weight > 0:
        error = pred - target
        dx = error[..., :, 1:] - error[..., :, :-1]
        dy = error[..., 1:, :] - error[..., :-1, :]
        loss = loss + gradient_weight * 0.5 * (dx.abs().mean() + dy.abs().mean())
    return loss


def prepare_clips(clips: Sequence[np.ndarray], size: int, *,
                  names: Sequence[str] | None = None) -> list[Tensor]:
    """Turn grey uint8 clips into the network's frames.

    Args:
        clips: ``(T, H, W)`` uint8 grey frames per clip (e.g. ``mer.flow.features.to_grey``),
            neutral to peak, ``T >= 3``.
        size: side to resize to (MIACNet's ``input_size``).
        names: clip ids for error messages.

    Returns:
        ``(T, 1, size, size)`` float32 frames in [0, 1] per clip.

    Raises:
        ValueError: naming the clip, if one is not ``(T >= 3, H, W)`` uint8.
    """
    out = []
    for i, frames in enumerate(clips):
        name = names[i] if names is not None else f"clip {i}"
        if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 3 \
                or frames.shape[0] < 3:
            got = (f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray)
                   else type(frames).__name__)
            raise ValueError(f"{name}: MA2MI needs (T >= 3, H, W) uint8 grey frames, got {got}")
        x = torch.from_numpy(frames.astype(np.float32) / 255.0)[:, None]
        out.append(resize(x, size).clamp_(0.0, 1.0))
    return out


def sample_triplets(lengths: Sequence[int], samples_per_clip: int, max_step: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Draw ``(clip, t - k, t, t + k)`` frame indices.

    Args:
        lengths: frames per clip (each >= 3).
        samples_per_clip: triplets per clip.
        max_step: largest ``k`` (capped per clip at ``(T - 1) // 2``).
        rng: the random generator.

    Returns:
        ``(len(lengths) * samples_per_clip, 4)`` int64 rows ``(clip, t - k, t, t + k)``.
    """
    rows = []
    for clip, length in enumerate(lengths):
        k_max = min(max_step, (length - 1) // 2)
        k = rng.integers(1, k_max + 1, size=samples_per_clip)
        t = rng.integers(k, length - k)  # k <= t <= length - 1 - k
        rows.append(np.stack([np.full(samples_per_clip, clip), t - k, t, t + k], axis=1))
    return np.concatenate(rows).astype(np.int64)


def pretrain(
    clips: Sequence[Tensor],
    model: MIACNet,
    config: MA2MIConfig,
    *,
    progress: bool = False,
) -> MA2MIResult:
    """Pretrain ``model``'s position and action encoders and gate by future-frame reconstruction.

    On the CPU the same arguments give a bit-identical state (seeded; deterministic algorithms
    on while training); the global torch RNG state is left as it was. ``model`` itself is not
    changed: it only gives the architecture (``widths``, ``input_size``).

    Args:
        clips: ``(T, 1, s, s)`` float32 frames in [0, 1] per clip (:func:`prepare_clips`),
            ``s = model.input_size``, ``T >= 3``.
        model: the MIACNet the encoders are for.
        config: the pretraining hyper-parameters.
        progress: show a tqdm bar over the epochs.

    Returns:
        The encoders' state dict in MIACNet's key space and the per-epoch history.

    Raises:
        ValueError: if there is no clip, or a clip has the wrong shape.
    """
    if not clips:
        raise ValueError("MA2MI: no macro-expression clip to pretrain on")
    size = model.input_size
    for i, x in enumerate(clips):
        if x.ndim != 4 or x.shape[0] < 3 or tuple(x.shape[1:]) != (1, size, size):
            raise ValueError(f"MA2MI: clip {i} must be (T >= 3, 1, {size}, {size}) frames, "
                             f"got {tuple(x.shape)}")
    lengths = [len(x) for x in clips]
    frames = torch.cat(list(clips)).to(torch.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    with deterministic_algorithms(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = MA2MINet(model.widths)
        net.reset_parameters()
        history = _train(net, frames, offsets, lengths, config, progress)
    own = set(model.state_dict())
    state = {key: value.detach().cpu().clone() for key, value in net.state_dict().items()
             if key.startswith(PRETRAINED_PREFIXES)}
    unknown = sorted(set(state) - own)
    if unknown:  # a programming error: MA2MINet and MIACNet drifted apart
        raise RuntimeError(f"MA2MI: keys {unknown[:5]} are not MIACNet's")
    n_triplets = len(clips) * config.samples_per_clip * config.epochs
    return MA2MIResult(state_dict=state, history=history, n_clips=len(clips),
                       n_triplets=n_triplets)


def _train(net: MA2MINet, frames: Tensor, offsets: np.ndarray, lengths: Sequence[int],
           config: MA2MIConfig, progress: bool) -> list[dict[str, float]]:
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    rng = np.random.default_rng(config.seed)
    history = []
    bar = tqdm(range(1, config.epochs + 1), desc="MA2MI pretrain", disable=not progress,
               leave=True, dynamic_ncols=True, unit="epoch")
    for epoch in bar:
        lr = optimizer.param_groups[0]["lr"]
        triplets = sample_triplets(lengths, config.samples_per_clip, config.max_step, rng)
        triplets = triplets[rng.permutation(len(triplets))]
        flips = rng.random(len(triplets)) < 0.5 if config.hflip else np.zeros(len(triplets), bool)
        net.train()
        sums = {"loss": 0.0, "l1": 0.0, "copy_l1": 0.0}
        n_batches = math.ceil(len(triplets) / config.batch_size)
        for batch, flip in zip(np.array_split(triplets, n_batches),
                               np.array_split(flips, n_batches), strict=True):
            before, now, after = (_gather(frames, offsets, batch, col, flip) for col in (1, 2, 3))
            pred = net(before, now)
            loss = reconstruction_loss(pred, after, config.gradient_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = len(batch)
            sums["loss"] += float(loss.detach()) * n
            sums["l1"] += float(F.l1_loss(pred.detach(), after)) * n
            sums["copy_l1"] += float(F.l1_loss(now, after)) * n
        scheduler.step()
        record = {"epoch": float(epoch), "lr": lr,
                  **{key: value / len(triplets) for key, value in sums.items()}}
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}",
                        vs_copy=f"{record['l1'] / max(record['copy_l1'], 1e-12):.3f}")
        logger.debug("MA2MI epoch %d: %s", epoch, record)
    return history


def _gather(frames: Tensor, offsets: np.ndarray, batch: np.ndarray, column: int,
            flip: np.ndarray) -> Tensor:
    """Frames ``(B, 1, s, s)`` of column ``column`` of the triplet rows, flipped where asked."""
    index = torch.from_numpy(offsets[batch[:, 0]] + batch[:, column])
    x = frames[index]
    if flip.any():
        mask = torch.from_numpy(flip)
        x = torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)
    return x
