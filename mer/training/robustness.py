"""Robustness conditions for one LOSO fold: noisy training labels and few shots per class.

Pure functions of the labels, positions and a seed (no I/O, no global RNG). Both act on a fold's
*training* clip positions only: validation and test clips keep their labels and are never
dropped, so the scores stay comparable with the clean run. Seed them with the training seed and
the fold index (``seed=(train_seed, fold_index)``) so every model of a comparison sees the same
corrupted labels and the same shots in a given fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mer.data.schema import LABELS
from mer.training.data import FeatureSet
from mer.training.loso import FoldLike, FoldResult, split_fold

Seed = int | Sequence[int]


def _labels_array(labels: Tensor | np.ndarray | Sequence[int]) -> np.ndarray:
    if isinstance(labels, Tensor):
        labels = labels.cpu().numpy()
    return np.asarray(labels, dtype=np.int64).reshape(-1)


def _positions(indices: Sequence[int] | np.ndarray, n: int, where: str) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(np.unique(idx)) != len(idx):
        raise ValueError(f"{where}: indices repeat a position")
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{where}: indices must be in 0..{n - 1}, got {idx.min()}..{idx.max()}")
    return idx


def inject_label_noise(
    labels: Tensor | np.ndarray | Sequence[int],
    indices: Sequence[int] | np.ndarray,
    rate: float,
    seed: Seed,
    n_classes: int = len(LABELS),
) -> np.ndarray:
    """Return a copy of ``labels`` with symmetric noise on the clips at ``indices``.

    Exactly ``round(rate * len(indices))`` of those clips, drawn without replacement, get a label
    drawn uniformly from the *other* ``n_classes - 1`` classes (symmetric noise, so every
    corrupted label is wrong); every other position keeps its label.

    Args:
        labels: ``(N,)`` int class codes in ``0..n_classes-1``.
        indices: ``(M,)`` distinct positions that may be corrupted (a fold's training clips).
        rate: fraction of ``indices`` to corrupt, in ``[0, 1]``.
        seed: seeds the draws (an int or a sequence of ints, e.g. ``(seed, fold_index)``).
        n_classes: number of classes K (>= 2).

    Returns:
        ``(N,)`` int64 labels.

    Raises:
        ValueError: on a rate outside [0, 1], repeated or out-of-range indices, a label outside
            ``0..K-1`` or K < 2.
    """
    out = _labels_array(labels).copy()
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"inject_label_noise: rate must be in [0, 1], got {rate}")
    if n_classes < 2:
        raise ValueError(f"inject_label_noise: n_classes must be >= 2, got {n_classes}")
    if len(out) and (out.min() < 0 or out.max() >= n_classes):
        raise ValueError(f"inject_label_noise: labels must be in 0..{n_classes - 1}")
    idx = _positions(indices, len(out), "inject_label_noise")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(idx, size=int(round(rate * len(idx))), replace=False)
    shift = rng.integers(1, n_classes, size=len(chosen))  # 1..K-1: never the same class
    out[chosen] = (out[chosen] + shift) % n_classes
    return out


def limit_shots(
    labels: Tensor | np.ndarray | Sequence[int],
    subjects: np.ndarray | Sequence[str],
    indices: Sequence[int] | np.ndarray,
    k: int,
    seed: Seed,
) -> np.ndarray:
    """Return the positions among ``indices`` kept when each subject keeps <= ``k`` clips a class.

    For every (subject, class) pair among ``indices``, ``min(k, count)`` clips are drawn without
    replacement; the others are dropped.

    Args:
        labels: ``(N,)`` int class codes.
        subjects: ``(N,)`` subject keys.
        indices: ``(M,)`` distinct candidate positions (a fold's training clips).
        k: shots per class per subject (>= 1).
        seed: seeds the draws (an int or a sequence of ints).

    Returns:
        ``(M',)`` int64 kept positions, ascending, a subset of ``indices``.

    Raises:
        ValueError: if ``k < 1``, the lengths differ, or an index repeats or is out of range.
    """
    labels = _labels_array(labels)
    subjects = np.asarray(subjects, dtype=object).reshape(-1)
    if k < 1:
        raise ValueError(f"limit_shots: k must be >= 1, got {k}")
    if len(subjects) != len(labels):
        raise ValueError(f"limit_shots: {len(subjects)} subjects but {len(labels)} labels")
    idx = np.sort(_positions(indices, len(labels), "limit_shots"))
    rng = np.random.default_rng(seed)
    kept = []
    groups: dict[tuple[str, int], list[int]] = {}
    for i in idx.tolist():
        groups.setdefault((str(subjects[i]), int(labels[i])), []).append(i)
    for key in sorted(groups):
        members = np.asarray(groups[key], dtype=np.int64)
        kept.append(members if len(members) <= k else rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class PerturbedFold:
    """A fold's clips with the robustness conditions applied.

    Attributes:
        data: the kept clips (every validation and test clip, the kept training clips), training
            labels possibly corrupted; pass it to the trainer in place of the full FeatureSet.
        positions: ``(M,)`` int64 position in the original FeatureSet of each row of ``data``.
        n_corrupted: training labels changed by the noise.
        n_dropped: training clips dropped by the shot limit.
    """

    data: FeatureSet
    positions: np.ndarray
    n_corrupted: int
    n_dropped: int


def perturb_fold(
    data: FeatureSet,
    fold: FoldLike,
    *,
    label_noise: float = 0.0,
    shots_per_class: int | None = None,
    seed: int = 0,
) -> PerturbedFold:
    """Apply label noise, then the shot limit, to the fold's training clips only.

    Noise comes first and the shots are chosen by the (possibly corrupted) labels, as an
    experimenter who picks k annotated clips per class would. Draws are seeded by
    ``(seed, fold.index)`` (noise) and ``(seed, fold.index, 1)`` (shots).

    Args:
        data: all clips.
        fold: the fold; only ``fold.train_subjects`` clips are touched.
        label_noise: symmetric noise rate (0 = clean).
        shots_per_class: at most this many clips per class per training subject (None = all).
        seed: the training seed.

    Returns:
        The perturbed FeatureSet and the map back to ``data``'s positions (see
        :func:`restore_positions`).
    """
    split = split_fold(data, fold)
    labels = inject_label_noise(data.labels, split.train, label_noise, (seed, fold.index))
    train = split.train
    if shots_per_class is not None:
        train = limit_shots(labels, data.subjects, split.train, shots_per_class,
                            (seed, fold.index, 1))
    positions = np.sort(np.concatenate([train, split.val, split.test])).astype(np.int64)
    noisy = FeatureSet(inputs=data.inputs, labels=torch.from_numpy(labels),
                       subjects=data.subjects, clips=data.clips)
    return PerturbedFold(
        data=noisy.subset(positions), positions=positions,
        n_corrupted=int((labels != data.labels.numpy()).sum()),
        n_dropped=len(split.train) - len(train),
    )


def restore_positions(result: FoldResult, perturbed: PerturbedFold) -> FoldResult:
    """Return ``result`` (fitted on ``perturbed.data``) with positions of the original data."""
    back = perturbed.positions
    return FoldResult(
        fold_index=result.fold_index, test_subject=result.test_subject,
        test_indices=back[result.test_indices], probs=result.probs,
        state_dict=result.state_dict, history=result.history,
        train_indices=back[result.train_indices], val_indices=back[result.val_indices],
    )
