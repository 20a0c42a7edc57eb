"""Episodes of the ``meta_auxiliary`` trainer: support and query from disjoint subjects.

LightmanNet (Wang et al., arXiv 2404.12024) names individual differences as the decision-level
problem of micro-expression recognition. An episode here models it directly: each episode splits
the fold's training subjects at random into *support subjects* and *query subjects*, adapts on
clips of the former and is scored on clips of the latter, so the outer update rewards what
transfers from some people to others, the situation of the held-out subject.

Sampler (:func:`sample_episode`), per episode:

1. Shuffle the training subjects; the first ``ceil(S / 2)`` are support subjects, the rest query
   subjects (with a single training subject both sets are that subject). Up to
   :data:`SPLIT_TRIES` shuffles are tried until both halves hold every class the pool holds; the
   last one is kept otherwise.
2. Class-balanced draws: for each class present on a side, ``n_support`` (``n_query``) clips of
   that class from that side's subjects, without replacement when the side has that many, with
   replacement otherwise (so a rare class still weighs as much as a common one).

Sampler (:func:`sample_pass`), per pass over the training clips (the epoch of the plain
trainer): the subjects are split as in step 1, each side's clips are shuffled and cut into the
same number of near-equal chunks, about ``n_support`` (``n_query``) clips per class each, and
chunk ``i`` of both sides is episode ``i``. Every training clip is then presented exactly once
per pass, at its own class frequency (the trainer weights the loss by inverse class frequency,
as the epoch-based trainers do).
"""

from __future__ import annotations

import math

import numpy as np

from mer.data.schema import LABELS

#: Subject splits tried per episode to find halves that both hold every class.
SPLIT_TRIES = 8


def split_subjects(subjects: np.ndarray, labels: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split the clips' subjects into support and query halves (see the module docstring).

    Args:
        subjects: ``(M,)`` subject keys of the pool's clips.
        labels: ``(M,)`` their class codes.
        rng: source of the shuffles.

    Returns:
        ``(support_mask, query_mask)``: ``(M,)`` bool masks over the pool, disjoint unless the
        pool holds a single subject.
    """
    people = np.unique(subjects)
    if len(people) == 1:
        everyone = np.ones(len(subjects), dtype=bool)
        return everyone, everyone
    classes = set(np.unique(labels).tolist())
    for _ in range(SPLIT_TRIES):
        order = rng.permutation(people)
        support = np.isin(subjects, order[:math.ceil(len(people) / 2)])
        if set(labels[support].tolist()) == classes == set(labels[~support].tolist()):
            break
    return support, ~support


def _balanced(pool: np.ndarray, labels: np.ndarray, per_class: int,
              rng: np.random.Generator, n_classes: int) -> np.ndarray:
    """``per_class`` positions of each class present in ``pool`` (replacement only if short)."""
    parts = []
    for c in range(n_classes):
        members = pool[labels[pool] == c]
        if len(members):
            parts.append(rng.choice(members, per_class, replace=len(members) < per_class))
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)


def sample_episode(
    labels: np.ndarray,
    subjects: np.ndarray,
    pool: np.ndarray,
    n_support: int,
    n_query: int,
    rng: np.random.Generator,
    n_classes: int = len(LABELS),
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one episode: class-balanced support and query clips of disjoint subjects.

    Args:
        labels: ``(N,)`` int class codes of all clips.
        subjects: ``(N,)`` subject keys of all clips.
        pool: ``(M,)`` positions the episode may draw (the fold's training clips).
        n_support: support clips per class.
        n_query: query clips per class.
        rng: source of the draws.
        n_classes: K.

    Returns:
        ``(support, query)`` int64 positions into ``labels``, grouped by class; ``n_support``
        (``n_query``) per class present on that side.

    Raises:
        ValueError: if ``pool`` is empty.
    """
    pool = np.asarray(pool, dtype=np.int64)
    if len(pool) == 0:
        raise ValueError("sample_episode: empty pool (no training clip)")
    support_mask, query_mask = split_subjects(subjects[pool], labels[pool], rng)
    return (_balanced(pool[support_mask], labels, n_support, rng, n_classes),
            _balanced(pool[query_mask], labels, n_query, rng, n_classes))


def sample_pass(
    labels: np.ndarray,
    subjects: np.ndarray,
    pool: np.ndarray,
    n_support: int,
    n_query: int,
    rng: np.random.Generator,
    n_classes: int = len(LABELS),
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Draw one pass of episodes that together present every clip of ``pool`` exactly once.

    Args:
        labels: ``(N,)`` int class codes of all clips.
        subjects: ``(N,)`` subject keys of all clips.
        pool: ``(M,)`` positions the pass covers (the fold's training clips).
        n_support: support clips per class and episode, on average (sets the chunk size).
        n_query: query clips per class and episode, on average.
        rng: source of the split and the shuffles.
        n_classes: K.

    Returns:
        ``ceil(max(M_s / (n_support K), M_q / (n_query K)))`` episodes ``(support, query)`` of
        int64 positions into ``labels``; support clips from one half of the subjects, query
        clips from the other (both the one subject when the pool holds only one); the supports
        partition that half's clips, the queries the other's (a side with fewer clips than
        episodes repeats them, so no episode has an empty side).

    Raises:
        ValueError: if ``pool`` is empty.
    """
    pool = np.asarray(pool, dtype=np.int64)
    if len(pool) == 0:
        raise ValueError("sample_pass: empty pool (no training clip)")
    support_mask, query_mask = split_subjects(subjects[pool], labels[pool], rng)
    support, query = rng.permutation(pool[support_mask]), rng.permutation(pool[query_mask])
    count = max(math.ceil(len(support) / (n_support * n_classes)),
                math.ceil(len(query) / (n_query * n_classes)))
    chunks = [np.array_split(side if len(side) >= count else np.resize(side, count), count)
              for side in (support, query)]
    return list(zip(*chunks, strict=True))
