"""The in-memory training set: named input tensors, labels, subjects and clip ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch
from torch import Tensor

from mer.data.schema import LABELS
from mer.models.base import INPUT_CHANNELS, SEQUENCE_INPUTS, input_rank

#: Per-clip vector inputs ``(N, D)`` float32 (any D), read by trainers rather than by the models:
#: the clip's action-unit text embedding and that of its left-right mirrored description, and
#: its AU set (multi-hot, sides explicit: ``mer.facs.au_sets``) as coded and mirrored
#: (``mer au-text``; all zeros where the clip has no coded AU).
VECTOR_INPUTS: Final[tuple[str, ...]] = ("au_text", "au_text_mirrored", "au_set",
                                         "au_set_mirrored")


def needs_sequence(input_keys: Sequence[str]) -> bool:
    """Whether a model reading ``input_keys`` needs the clip sequences (``"frames"``,
    ``"flows"``: the flow stage's sequence folder), which the loader reads only then."""
    return bool(SEQUENCE_INPUTS.intersection(input_keys))


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Per-clip inputs of the models, one row per clip.

    Attributes:
        inputs: ``key -> (N, C, H, W)`` float32 tensors, keys among ``"flow"`` (u, v in pixels of
            the face crop, strain; C = 3), ``"apex"`` and ``"onset"`` (grey in [0, 1]; C = 1).
            H = W = 128 from the flow stage; the sequence inputs ``"frames"`` ``(N, 3, K, S, S)``
            (RGB in [0, 1]) and ``"flows"`` ``(N, 2, K - 1, S, S)`` (u, v in pixels of the S-pixel
            crop), S = ``flow.sequence_size``, only when a model reads them. Also
            ``key -> (N, D)`` float32 per-clip vectors for the keys of :data:`VECTOR_INPUTS`
            (``"au_text"``).
        labels: ``(N,)`` int64 class codes in ``0..2`` (``mer.data.schema.LABELS`` order).
        subjects: ``(N,)`` global subject keys ``"<dataset>/<subject>"`` (object array of str).
        clips: ``(N,)`` clip ids (object array of str).

    Raises:
        ValueError: on construction, if a shape, dtype or label breaks the rules above.
    """

    inputs: dict[str, Tensor]
    labels: Tensor
    subjects: np.ndarray
    clips: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "subjects", _strings(self.subjects, "subjects"))
        object.__setattr__(self, "clips", _strings(self.clips, "clips"))
        n = len(self.labels)
        _check_labels(self.labels)
        for name, values in (("subjects", self.subjects), ("clips", self.clips)):
            if len(values) != n:
                raise ValueError(f"FeatureSet: {len(values)} {name} but {n} labels")
        if not self.inputs:
            raise ValueError(f"FeatureSet: no inputs; expected some of {sorted(INPUT_CHANNELS)}")
        if not set(self.inputs) - set(VECTOR_INPUTS):
            raise ValueError(f"FeatureSet: no image input; expected some of "
                             f"{sorted(INPUT_CHANNELS)} besides {sorted(self.inputs)}")
        for key, x in self.inputs.items():
            _check_input(key, x, n)

    def __len__(self) -> int:
        """Return the number of clips N."""
        return len(self.labels)

    def subset(self, indices: Sequence[int] | np.ndarray) -> FeatureSet:
        """Return the clips at ``indices`` (in that order) as a new FeatureSet.

        Args:
            indices: ``(M,)`` integer positions in ``0..N-1``.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        index = torch.from_numpy(idx)
        return FeatureSet(
            inputs={key: x[index] for key, x in self.inputs.items()},
            labels=self.labels[index],
            subjects=self.subjects[idx],
            clips=self.clips[idx],
        )

    def subject_indices(self, subjects: Sequence[str]) -> np.ndarray:
        """Return the ``(M,)`` int64 positions of the clips of ``subjects``, ascending."""
        return np.flatnonzero(np.isin(self.subjects, list(subjects))).astype(np.int64)


def _strings(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object).reshape(-1)
    bad = [i for i, v in enumerate(array) if not isinstance(v, str)]
    if bad:
        raise ValueError(f"FeatureSet: {name}[{bad[0]}] = {array[bad[0]]!r} is not a str")
    return array


def _describe(x: object) -> str:
    """``"<dtype> <shape>"`` of a tensor, or the type of anything else."""
    if isinstance(x, Tensor):
        return f"{x.dtype} {tuple(x.shape)}"
    return type(x).__name__


def _check_labels(labels: Tensor) -> None:
    if not isinstance(labels, Tensor) or labels.dtype != torch.int64 or labels.ndim != 1:
        raise ValueError(f"FeatureSet: labels must be a 1-D int64 tensor, got {_describe(labels)}")
    bad = torch.nonzero((labels < 0) | (labels >= len(LABELS))).flatten()
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"FeatureSet: labels[{i}] = {int(labels[i])}; codes must be in "
                         f"0..{len(LABELS) - 1} ({', '.join(LABELS)})")


def _check_input(key: str, x: Tensor, n: int) -> None:
    if key in VECTOR_INPUTS:
        if not (isinstance(x, Tensor) and x.dtype == torch.float32 and x.ndim == 2
                and x.shape[0] == n):
            raise ValueError(f"FeatureSet: input {key!r} must be a float32 tensor ({n}, D), "
                             f"got {_describe(x)}")
        return
    if key not in INPUT_CHANNELS:
        raise ValueError(f"FeatureSet: unknown input {key!r}; known: "
                         f"{sorted(INPUT_CHANNELS) + sorted(VECTOR_INPUTS)}")
    channels = INPUT_CHANNELS[key]
    expected = isinstance(x, Tensor) and x.dtype == torch.float32 and x.ndim == input_rank(key) \
        and x.shape[0] == n and x.shape[1] == channels
    if not expected:
        layout = "T, H, W" if key in SEQUENCE_INPUTS else "H, W"
        raise ValueError(f"FeatureSet: input {key!r} must be a float32 tensor "
                         f"({n}, {channels}, {layout}), got {_describe(x)}")
