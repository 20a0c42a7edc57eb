"""The interface every MER model follows, and the input normalisation it carries.

A model reads named inputs from a ``dict[str, Tensor]`` (the keys of
``mer.training.data.FeatureSet.inputs``), each ``(B, C, H, W)`` float32:

- ``"flow"``: ``(B, 3, H, W)`` = optical flow onset -> apex ``u`` (x, rightwards), ``v`` (y,
  downwards), in pixels of the face crop, and the optical strain magnitude (unitless);
- ``"apex"`` and ``"onset"``: ``(B, 1, H, W)`` grey frames in ``[0, 1]``;
- sequence inputs (:data:`SEQUENCE_INPUTS`, ``(B, C, T, H, W)``, written by the flow stage when
  ``flow.sequence_frames`` > 0): ``"frames"`` ``(B, 3, K, H, W)`` RGB aligned crops in
  ``[0, 1]`` sampled evenly from onset to offset, and ``"flows"`` ``(B, 2, K - 1, H, W)`` the
  TV-L1 flow (u, v, pixels of the sequence crop) between consecutive samples.

Each model resizes its inputs to its ``input_size``, then standardises them per channel with
statistics it keeps as buffers (so they travel in its ``state_dict``), set by the training code
from the training clips only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Channels of each named input.
INPUT_CHANNELS: dict[str, int] = {"flow": 3, "apex": 1, "onset": 1, "frames": 3, "flows": 2}

#: The inputs that are clips over time, ``(B, C, T, H, W)``; the others are ``(B, C, H, W)``.
SEQUENCE_INPUTS: frozenset[str] = frozenset({"frames", "flows"})

#: The inputs holding a flow field whose channel 0 is the horizontal displacement ``u``.
FLOW_INPUTS: frozenset[str] = frozenset({"flow", "flows"})


def input_rank(key: str) -> int:
    """Return the tensor rank of input ``key`` with its batch axis: 5 for a sequence, else 4."""
    return 5 if key in SEQUENCE_INPUTS else 4


def _channel_view(x: Tensor, values: Tensor) -> Tensor:
    """``values`` ``(C,)`` shaped to broadcast over the channel axis (1) of ``x``."""
    return values.view(1, -1, *([1] * (x.ndim - 2)))

#: Number of classes (``mer.data.schema.LABELS``: negative, positive, surprise).
NUM_CLASSES = 3

#: A standard deviation below this is treated as 1 (a constant channel is only centred).
_MIN_STD = 1e-6


class InputNorm(nn.Module):
    """Per-channel standardisation ``(x - mean) / std`` of named inputs.

    The statistics are buffers ``<key>_mean`` and ``<key>_std`` of shape ``(C,)``; they start at
    0 and 1 (identity) until :meth:`fit` sets them.

    Args:
        keys: the input names to normalise (each one of :data:`INPUT_CHANNELS`).
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__()
        self.keys = keys
        for key in keys:
            channels = INPUT_CHANNELS[key]
            self.register_buffer(f"{key}_mean", torch.zeros(channels))
            self.register_buffer(f"{key}_std", torch.ones(channels))

    def reset_parameters(self) -> None:
        """Reset the statistics to the identity (mean 0, std 1)."""
        for key in self.keys:
            self.get_buffer(f"{key}_mean").zero_()
            self.get_buffer(f"{key}_std").fill_(1.0)

    @torch.no_grad()
    def fit(self, inputs: dict[str, Tensor]) -> None:
        """Set the statistics from ``inputs`` (the training clips only).

        Args:
            inputs: ``key -> (N, C, H, W)`` (or ``(N, C, T, H, W)``) tensors; mean and std are
                taken over every axis but C, in float64.
        """
        for key in self.keys:
            x = inputs[key].to(torch.float64)
            axes = tuple(d for d in range(x.ndim) if d != 1)
            mean = x.mean(dim=axes)
            std = x.std(dim=axes, correction=0)
            std = torch.where(std < _MIN_STD, torch.ones_like(std), std)
            self.get_buffer(f"{key}_mean").copy_(mean)
            self.get_buffer(f"{key}_std").copy_(std)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Return the standardised inputs (only the keys this module knows).

        Args:
            inputs: ``key -> (B, C, H, W)`` (or ``(B, C, T, H, W)``) float tensors.

        Returns:
            The standardised tensors, same shapes.
        """
        out = {}
        for key in self.keys:
            x = inputs[key]
            mean = _channel_view(x, self.get_buffer(f"{key}_mean"))
            std = _channel_view(x, self.get_buffer(f"{key}_std"))
            out[key] = (x - mean) / std
        return out


class MerModel(nn.Module, ABC):
    """Base class of the registered models.

    Subclasses set :attr:`input_keys`, build ``self.classifier`` (embedding ``(B, D)`` -> logits
    ``(B, NUM_CLASSES)``) and implement :meth:`embed`.

    Attributes:
        input_keys: which ``FeatureSet.inputs`` the model reads.
        input_size: side, in pixels, the inputs are resized to before standardisation.
        norm: the per-channel input standardisation (buffers ``norm.<key>_mean``/``_std``).
        classifier: embedding ``(B, D)`` -> logits ``(B, 3)``.
    """

    input_keys: ClassVar[tuple[str, ...]]
    classifier: nn.Module

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.norm = InputNorm(self.input_keys)

    def resize_inputs(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Return :attr:`input_keys` of ``inputs`` resized to ``input_size`` (see :func:`resize`).

        The forward pass does this itself (a no-op on inputs already at ``input_size``); the
        training code calls it once per data set so that augmentation and the normalisation
        statistics see exactly what the network sees.

        Args:
            inputs: ``key -> (B, C, H, W)`` tensors holding at least :attr:`input_keys`.

        Returns:
            ``key -> (B, C, input_size, input_size)`` for each of :attr:`input_keys`.

        Raises:
            ValueError: if an input is missing or has the wrong channel count or rank.
        """
        check_inputs(self, inputs)
        return {key: resize(inputs[key], self.input_size) for key in self.input_keys}

    @abstractmethod
    def embed(self, inputs: dict[str, Tensor]) -> Tensor:
        """Map standardised inputs ``key -> (B, C, input_size, input_size)`` to ``(B, D)``."""

    def features(self, inputs: dict[str, Tensor]) -> Tensor:
        """Return the embedding before the classifier.

        Args:
            inputs: raw (not resized nor standardised) ``key -> (B, C, H, W)`` float32 tensors
                holding at least :attr:`input_keys`.

        Returns:
            ``(B, D)`` embedding.

        Raises:
            ValueError: if an input is missing or has the wrong channel count or rank.
        """
        return self.embed(self.norm(self.resize_inputs(inputs)))

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """Return class logits ``(B, 3)`` (negative, positive, surprise) for raw inputs."""
        return self.classifier(self.features(inputs))

    def reset_parameters(self) -> None:
        """Re-initialise every weight (PyTorch defaults) and reset the input statistics."""
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and callable(reset):
                reset()


def check_inputs(model: MerModel, inputs: dict[str, Tensor]) -> None:
    """Raise ``ValueError`` unless ``inputs`` has each of ``model.input_keys`` as ``(B, C, H, W)``
    (``(B, C, T, H, W)`` for a sequence input).

    Args:
        model: the model whose :attr:`~MerModel.input_keys` are required.
        inputs: ``key -> tensor``.
    """
    name = type(model).__name__
    missing = [key for key in model.input_keys if key not in inputs]
    if missing:
        raise ValueError(f"{name}: missing input(s) {missing}; got {sorted(inputs)}")
    for key in model.input_keys:
        shape = tuple(inputs[key].shape)
        if len(shape) != input_rank(key) or shape[1] != INPUT_CHANNELS[key]:
            layout = "T, H, W" if key in SEQUENCE_INPUTS else "H, W"
            raise ValueError(
                f"{name}: input {key!r} must be (B, {INPUT_CHANNELS[key]}, {layout}), got {shape}"
            )


def grid_pool(x: Tensor, grid: int) -> Tensor:
    """Average-pool maps ``(B, C, h, w)`` to ``grid x grid`` cells and flatten to
    ``(B, C * grid * grid)`` (channel-major); ``grid`` 1 is global average pooling.

    Keeping a coarse grid keeps *where* on the aligned face a feature fired, which global pooling
    discards (a brow raiser and a lip-corner puller differ mostly in where they move).
    """
    if grid == 1:
        return x.mean(dim=(2, 3))
    return F.adaptive_avg_pool2d(x, grid).flatten(1)


def centre_fields(x: Tensor) -> Tensor:
    """Subtract from each map its mean over the last two (spatial) axes: ``(..., H, W)`` ->
    the same shape. On a flow field (pixels) this removes a translation of the whole face, e.g.
    the head's drift between the two frames."""
    return x - x.mean(dim=(-2, -1), keepdim=True)


def normalise_flow(flow: Tensor, eps: float = 1e-3) -> Tensor:
    """Per clip, the spatial pattern of a flow ``(B, 3, H, W)`` (u, v, strain) at unit scale.

    u and v are centred over the face (:func:`centre_fields`) and divided by the clip's RMS
    motion ``sqrt(mean(u ** 2 + v ** 2))``, one factor for both so directions are kept; the
    strain is centred and divided by its own RMS. A clip's amplitude (and a drift of the whole
    head) is removed, where and which way the face moves is kept. Same shape out.
    """
    motion, strain = centre_fields(flow[:, :2]), centre_fields(flow[:, 2:])
    motion_rms = motion.square().sum(dim=1, keepdim=True).mean(dim=(-2, -1), keepdim=True).sqrt()
    strain_rms = strain.square().mean(dim=(-2, -1), keepdim=True).sqrt()
    return torch.cat([motion / (motion_rms + eps), strain / (strain_rms + eps)], dim=1)


def resize(x: Tensor, size: int) -> Tensor:
    """Resize ``(B, C, H, W)`` maps to ``(B, C, size, size)`` (bilinear, antialiased); a
    sequence ``(B, C, T, H, W)`` frame by frame to ``(B, C, T, size, size)``.

    Values are not rescaled: a flow in pixels of the H x W crop keeps its values.
    """
    if x.shape[-2:] == (size, size):
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:]) if x.ndim != 4 else x
    out = F.interpolate(flat, size=(size, size), mode="bilinear", antialias=True,
                        align_corners=False)
    return out.reshape(*lead, size, size)
