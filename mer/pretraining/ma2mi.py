"""MA2MI: self-supervised pretraining by future-frame reconstruction on macro-expression clips
(after Li, Niu and Zhao, arXiv 2405.16451). Pure library: no file I/O.

Given two grey frames ``x[i]`` (the present) and ``x[j]`` (the future, ``j != i``) of an aligned
macro-expression clip, the network reconstructs ``x[j]`` from

- the **position** features of the present, ``P = position(x[i])`` (MIACNet's position encoder),
- an **action code** that describes the change: ``a = W avgpool(gate(P, action(x[j] - x[i])))``,
  MIACNet's action encoder and position gate, pooled over space (as MIACNet's embedding pools
  them) and projected to ``code_dim`` numbers. This is the bottleneck: ``code_dim`` (16) numbers
  cannot carry the pixels of a 64 x 64 difference, only what the change is; *where* it happens on
  this face has to come from the position features.

A decoder (thrown away afterwards) broadcasts ``a`` over the position map, upsamples to half the
frame's side and predicts a displacement field ``(u, v)`` (pixels) and an intensity change ``d``;
the prediction is ``x[i]`` warped by ``(u, v)`` plus ``d``. Its last convolution starts at zero, so
training starts from "nothing moves" (the copy baseline) and any fall below it is motion the
encoders learnt to describe.

Spans: ``k = |j - i|`` uniform in ``1..max_step`` (``None``: up to the clip's length, i.e. up to
the whole onset -> apex span), the direction forwards or backwards with probability 1/2 (backwards
is apex -> offset: the face returning to rest). Loss (grey in [0, 1]): ``L1(x̂[j], x[j]) +
gradient_weight * L1(∇x̂[j], ∇x[j])``. Frames are resized to MIACNet's ``input_size``;
``samples_per_clip`` pairs per clip and epoch, flipped left-right with probability 1/2 when
``hflip``. :func:`held_out_error` measures the reconstruction against the copy baseline on clips
not trained on (held-out subjects).
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
            (the same for predicting no change, ``x̂[j] = x[i]``, on the same pairs).
        n_clips: clips trained on.
        n_pairs: frame pairs seen over all epochs.
        net: the trained reconstructor (encoders, gate, code and decoder), in eval mode.
    """

    state_dict: dict[str, Tensor]
    history: list[dict[str, float]]
    n_clips: int
    n_pairs: int
    net: MA2MINet


class MotionDecoder(nn.Module):
    """Decode the position map and the action code into a displacement and an intensity change.

    Args:
        widths: the encoder's widths; the decoder mirrors them (one x2 upsampling and 3 x 3
            convolution per level up to half the frame's side, where the prediction is made, then
            upsampled bilinearly to the frame).
        code_dim: length of the action code.

    Shapes: ``position (B, widths[-1], h, h)``, ``code (B, code_dim)`` -> ``(B, 3, H, H)`` with
    ``H = h * 2 ** len(widths)``: ``u``, ``v`` (pixels of the frame, x rightwards, y downwards) and
    ``d`` (grey change).
    """

    def __init__(self, widths: Sequence[int], code_dim: int) -> None:
        super().__init__()
        widths = tuple(widths)
        channels = (widths[-1], *reversed(widths[:-1]))
        self.entry = _conv_bn_relu(widths[-1] + code_dim, widths[-1])
        self.ups = nn.ModuleList(_conv_bn_relu(c_in, c_out)
                                 for c_in, c_out in zip(channels[:-1], channels[1:], strict=True))
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)
        self.zero_head()

    def zero_head(self) -> None:
        """Start from "nothing moves": no displacement, no change, until the head learns."""
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, position: Tensor, code: Tensor) -> Tensor:
        """Decode into ``(B, 3, H, H)`` (see the class)."""
        b, _, h, w = position.shape
        h_map = self.entry(torch.cat([position, code.view(b, -1, 1, 1).expand(-1, -1, h, w)], 1))
        for up in self.ups:
            h_map = up(F.interpolate(h_map, scale_factor=2.0, mode="bilinear",
                                     align_corners=False))
        return F.interpolate(self.head(h_map), scale_factor=2.0, mode="bilinear",
                             align_corners=False)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU())


def warp(frames: Tensor, displacement: Tensor) -> Tensor:
    """Sample ``frames`` ``(B, C, H, W)`` at ``p + displacement(p)`` (backward warp, bilinear,
    border padding); ``displacement`` ``(B, 2, H, W)`` in pixels (x, y)."""
    b, _, h, w = frames.shape
    ys = torch.linspace(-1.0, 1.0, h, dtype=frames.dtype, device=frames.device)
    xs = torch.linspace(-1.0, 1.0, w, dtype=frames.dtype, device=frames.device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([grid_x + displacement[:, 0] * (2.0 / max(w - 1, 1)),
                        grid_y + displacement[:, 1] * (2.0 / max(h - 1, 1))], dim=-1)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=True)


class MA2MINet(nn.Module):
    """Future-frame reconstructor built on MIACNet's encoders and gate.

    Args:
        widths: the MIACNet's ``widths``; module names match MIACNet's (``position``,
            ``action``, ``gate``) so their state-dict keys do too.
        code_dim: length of the action code (the bottleneck).

    Shapes: ``now``, ``future`` ``(B, 1, s, s)`` grey in [0, 1] -> predicted ``future``
    ``(B, 1, s, s)``, with ``s`` a multiple of ``2 ** len(widths)``.
    """

    def __init__(self, widths: Sequence[int], code_dim: int) -> None:
        super().__init__()
        self.position = ConvEncoder(1, widths)
        self.action = ConvEncoder(1, widths)
        self.gate = PositionGate(widths[-1])
        self.code = nn.Linear(widths[-1], code_dim)
        self.decoder = MotionDecoder(widths, code_dim)

    def reset_parameters(self) -> None:
        """Re-initialise every weight (PyTorch defaults; the decoder head at zero)."""
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and callable(reset):
                reset()
        self.decoder.zero_head()

    def encode(self, now: Tensor, future: Tensor) -> tuple[Tensor, Tensor]:
        """Return the position map ``(B, C, h, h)`` of ``now`` and the action code
        ``(B, code_dim)`` of the change ``future - now``."""
        position = self.position(now)
        gated, _ = self.gate(position, self.action(future - now))
        return position, self.code(gated.mean(dim=(2, 3)))

    def forward(self, now: Tensor, future: Tensor) -> Tensor:
        """Reconstruct ``future`` from ``now``'s position features and the action code."""
        position, code = self.encode(now, future)
        out = self.decoder(position, code)
        return warp(now, out[:, :2]) + out[:, 2:]


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
            neutral to peak, ``T >= 2``.
        size: side to resize to (MIACNet's ``input_size``).
        names: clip ids for error messages.

    Returns:
        ``(T, 1, size, size)`` float32 frames in [0, 1] per clip.

    Raises:
        ValueError: naming the clip, if one is not ``(T >= 2, H, W)`` uint8.
    """
    out = []
    for i, frames in enumerate(clips):
        name = names[i] if names is not None else f"clip {i}"
        if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 3 \
                or frames.shape[0] < 2:
            got = (f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray)
                   else type(frames).__name__)
            raise ValueError(f"{name}: MA2MI needs (T >= 2, H, W) uint8 grey frames, got {got}")
        x = torch.from_numpy(frames.astype(np.float32) / 255.0)[:, None]
        out.append(resize(x, size).clamp_(0.0, 1.0))
    return out


def sample_pairs(lengths: Sequence[int], samples_per_clip: int, max_step: int | None,
                 rng: np.random.Generator) -> np.ndarray:
    """Draw ``(clip, i, j)`` frame indices: reconstruct frame ``j`` from frame ``i``.

    Args:
        lengths: frames per clip (each >= 2).
        samples_per_clip: pairs per clip.
        max_step: largest span ``|j - i|`` (capped per clip at ``T - 1``; None: ``T - 1``).
        rng: the random generator.

    Returns:
        ``(len(lengths) * samples_per_clip, 3)`` int64 rows ``(clip, i, j)``; the span is uniform
        in ``1..k_max`` and the direction (``j > i`` or ``j < i``) is a fair coin.
    """
    rows = []
    for clip, length in enumerate(lengths):
        k_max = length - 1 if max_step is None else min(max_step, length - 1)
        k = rng.integers(1, k_max + 1, size=samples_per_clip)
        start = rng.integers(0, length - k)  # 0 <= start <= length - 1 - k
        backwards = rng.random(samples_per_clip) < 0.5
        i = np.where(backwards, start + k, start)
        j = np.where(backwards, start, start + k)
        rows.append(np.stack([np.full(samples_per_clip, clip), i, j], axis=1))
    return np.concatenate(rows).astype(np.int64)


def held_out_subjects(subjects: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """Which clips belong to the subjects set aside to measure the reconstruction.

    Args:
        subjects: ``(N,)`` subject key of each clip.
        fraction: share of the distinct subjects held out (rounded, at least 1, at most all but 1).
        seed: seeds the draw (of the sorted subjects).

    Returns:
        ``(N,)`` bool, True for the clips of a held-out subject.

    Raises:
        ValueError: if there are fewer than 2 subjects.
    """
    distinct = sorted(set(subjects))
    if len(distinct) < 2:
        raise ValueError(f"MA2MI: {len(distinct)} macro subject(s) left to pretrain on; at least 2 "
                         "are needed (one is held out to measure the reconstruction)")
    n = min(max(round(fraction * len(distinct)), 1), len(distinct) - 1)
    picked = np.random.default_rng([seed, 5]).choice(len(distinct), size=n, replace=False)
    return np.isin(np.asarray(subjects, dtype=object), [distinct[i] for i in picked])


def _check_clips(clips: Sequence[Tensor], size: int) -> None:
    for i, x in enumerate(clips):
        if x.ndim != 4 or x.shape[0] < 2 or tuple(x.shape[1:]) != (1, size, size):
            raise ValueError(f"MA2MI: clip {i} must be (T >= 2, 1, {size}, {size}) frames, "
                             f"got {tuple(x.shape)}")


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
            ``s = model.input_size``, ``T >= 2``.
        model: the MIACNet the encoders are for.
        config: the pretraining hyper-parameters.
        progress: show a tqdm bar over the epochs.

    Returns:
        The encoders' state dict in MIACNet's key space, the per-epoch history and the network.

    Raises:
        ValueError: if there is no clip, or a clip has the wrong shape.
    """
    if not clips:
        raise ValueError("MA2MI: no macro-expression clip to pretrain on")
    _check_clips(clips, model.input_size)
    lengths = [len(x) for x in clips]
    frames = torch.cat(list(clips)).to(torch.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    with deterministic_algorithms(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = MA2MINet(model.widths, config.code_dim)
        net.reset_parameters()
        history = _train(net, frames, offsets, lengths, config, progress)
    net.eval()
    own = set(model.state_dict())
    state = {key: value.detach().cpu().clone() for key, value in net.state_dict().items()
             if key.startswith(PRETRAINED_PREFIXES)}
    unknown = sorted(set(state) - own)
    if unknown:  # a programming error: MA2MINet and MIACNet drifted apart
        raise RuntimeError(f"MA2MI: keys {unknown[:5]} are not MIACNet's")
    n_pairs = len(clips) * config.samples_per_clip * config.epochs
    return MA2MIResult(state_dict=state, history=history, n_clips=len(clips), n_pairs=n_pairs,
                       net=net)


@torch.no_grad()
def held_out_error(net: MA2MINet, clips: Sequence[Tensor], config: MA2MIConfig,
                   *, seed: int) -> dict[str, float]:
    """Reconstruction error of ``net`` (eval mode) on ``clips`` against the copy baseline.

    Args:
        net: the trained reconstructor (``MA2MIResult.net``).
        clips: ``(T, 1, s, s)`` frames of clips it was not trained on (held-out subjects).
        config: gives ``samples_per_clip``, ``max_step`` and ``batch_size`` (no flips).
        seed: seeds the pairs drawn.

    Returns:
        ``l1`` (predicted frame), ``copy_l1`` (``x̂[j] = x[i]``), ``ratio`` = ``l1 / copy_l1``
        (below 1: the code describes motion the copy misses) and ``n_pairs``.

    Raises:
        ValueError: if there is no clip, or a clip has the wrong shape.
    """
    if not clips:
        raise ValueError("MA2MI: no held-out clip to measure the reconstruction on")
    _check_clips(clips, clips[0].shape[-1])
    lengths = [len(x) for x in clips]
    frames = torch.cat(list(clips)).to(torch.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pairs = sample_pairs(lengths, config.samples_per_clip, config.max_step,
                         np.random.default_rng(seed))
    no_flip = np.zeros(len(pairs), dtype=bool)
    net.eval()
    l1 = copy = 0.0
    for batch in np.array_split(pairs, math.ceil(len(pairs) / config.batch_size)):
        flip = no_flip[: len(batch)]
        now, future = (_gather(frames, offsets, batch, col, flip) for col in (1, 2))
        l1 += float((net(now, future) - future).abs().mean()) * len(batch)
        copy += float((now - future).abs().mean()) * len(batch)
    return {"l1": l1 / len(pairs), "copy_l1": copy / len(pairs),
            "ratio": l1 / max(copy, 1e-12), "n_pairs": float(len(pairs))}


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
        pairs = sample_pairs(lengths, config.samples_per_clip, config.max_step, rng)
        pairs = pairs[rng.permutation(len(pairs))]
        flips = rng.random(len(pairs)) < 0.5 if config.hflip else np.zeros(len(pairs), bool)
        net.train()
        sums = {"loss": 0.0, "l1": 0.0, "copy_l1": 0.0}
        n_batches = math.ceil(len(pairs) / config.batch_size)
        for batch, flip in zip(np.array_split(pairs, n_batches),
                               np.array_split(flips, n_batches), strict=True):
            now, future = (_gather(frames, offsets, batch, col, flip) for col in (1, 2))
            pred = net(now, future)
            loss = reconstruction_loss(pred, future, config.gradient_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = len(batch)
            sums["loss"] += float(loss.detach()) * n
            sums["l1"] += float(F.l1_loss(pred.detach(), future)) * n
            sums["copy_l1"] += float(F.l1_loss(now, future)) * n
        scheduler.step()
        record = {"epoch": float(epoch), "lr": lr,
                  **{key: value / len(pairs) for key, value in sums.items()}}
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}",
                        vs_copy=f"{record['l1'] / max(record['copy_l1'], 1e-12):.3f}")
        logger.debug("MA2MI epoch %d: %s", epoch, record)
    return history


def _gather(frames: Tensor, offsets: np.ndarray, batch: np.ndarray, column: int,
            flip: np.ndarray) -> Tensor:
    """Frames ``(B, 1, s, s)`` of column ``column`` of the pair rows, flipped where asked."""
    index = torch.from_numpy(offsets[batch[:, 0]] + batch[:, column])
    x = frames[index]
    if flip.any():
        mask = torch.from_numpy(flip)
        x = torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)
    return x
