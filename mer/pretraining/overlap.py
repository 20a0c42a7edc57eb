"""Keep the micro-expression test subjects out of macro-expression pretraining.

A person who is in both corpora would let pretraining see the face of a LOSO test subject. The
check runs once, before pretraining, against *every* micro-expression subject (each is the test
subject of one fold): overlap is found by identity when both corpora map subjects to identities
(e.g. ``subjects.csv`` of the embedded corpus, or a hand-made table for real corpora that share
participants), else by the subject id as the corpora spell it. ``on_overlap`` decides:

- ``exclude``: drop the macro clips of every overlapping macro subject (for every fold: one
  pretraining serves all folds, so a subject that is the test subject of any fold is left out);
- ``accept``: keep them; the overlap is recorded in the pretraining's configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

OverlapPolicy = Literal["exclude", "accept"]
POLICIES: tuple[str, ...] = ("exclude", "accept")


@dataclass(frozen=True)
class SubjectOverlap:
    """One macro-expression subject who is also in the micro-expression corpus.

    Attributes:
        macro_subject: its key ``"<dataset>/<subject>"`` in the macro corpus.
        micro_subjects: the matching micro-expression subject keys, sorted.
        identity: the shared identity, or None when matched by subject id.
    """

    macro_subject: str
    micro_subjects: tuple[str, ...]
    identity: str | None = None


@dataclass(frozen=True, eq=False)
class OverlapDecision:
    """What the policy made of the overlap.

    Attributes:
        keep: ``(N,)`` bool, which macro clips pretraining may use.
        record: a YAML-friendly summary for the pretraining's configuration (policy, how
            matched, the overlapping subjects, clips dropped).
    """

    keep: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def _bare(key: str) -> str:
    return key.split("/", 1)[-1]


def _identity(key: str, identities: Mapping[str, str]) -> str:
    """Identity of a subject key, looked up as ``dataset/subject`` then as ``subject``; a subject
    the table does not list (e.g. one merged by retraining) is matched by its subject id."""
    for candidate in (key, _bare(key)):
        if candidate in identities:
            return identities[candidate]
    return f"subject id {_bare(key)}"


def find_overlap(
    macro_subjects: Iterable[str],
    micro_subjects: Iterable[str],
    *,
    macro_identities: Mapping[str, str] | None = None,
    micro_identities: Mapping[str, str] | None = None,
) -> list[SubjectOverlap]:
    """Return the macro-expression subjects who are also micro-expression subjects.

    Args:
        macro_subjects: macro subject keys ``"<dataset>/<subject>"``.
        micro_subjects: micro subject keys ``"<dataset>/<subject>"``.
        macro_identities: subject -> identity of the macro corpus, keyed by
            ``"<dataset>/<subject>"`` or by the bare subject.
        micro_identities: the same for the micro corpus.

    Returns:
        One :class:`SubjectOverlap` per overlapping macro subject, sorted by key. With both
        identity tables, subjects match when their identities are equal (a subject missing from
        its table is compared by its bare subject id); with neither, when their bare subject ids
        are equal.

    Raises:
        ValueError: if only one identity table is given.
    """
    macro, micro = sorted(set(macro_subjects)), sorted(set(micro_subjects))
    if (macro_identities is None) != (micro_identities is None):
        raise ValueError("overlap by identity needs the identity tables of both corpora "
                         "(macro and micro); give both or neither (then subject ids are compared)")
    by_identity = macro_identities is not None and micro_identities is not None
    if by_identity:
        macro_of = {key: _identity(key, macro_identities) for key in macro}
        micro_of = {key: _identity(key, micro_identities) for key in micro}
    else:
        macro_of = {key: _bare(key) for key in macro}
        micro_of = {key: _bare(key) for key in micro}
    found = []
    for key in macro:
        matches = tuple(m for m in micro if micro_of[m] == macro_of[key])
        if matches:
            found.append(SubjectOverlap(key, matches, macro_of[key] if by_identity else None))
    return found


def resolve_overlap(
    clip_subjects: Sequence[str],
    overlap: Sequence[SubjectOverlap],
    policy: OverlapPolicy,
    *,
    matched_by: Literal["identity", "subject_id"],
) -> OverlapDecision:
    """Apply ``policy`` to the macro clips.

    Args:
        clip_subjects: ``(N,)`` macro subject key of each clip.
        overlap: what :func:`find_overlap` found.
        policy: ``exclude`` (drop the overlapping subjects' clips) or ``accept`` (keep them).
        matched_by: how the overlap was found (recorded).

    Returns:
        Which clips to keep, and the record for the configuration.

    Raises:
        ValueError: on an unknown policy, or if ``exclude`` would leave no clip.
    """
    if policy not in POLICIES:
        raise ValueError(f"on_overlap must be one of {POLICIES}, got {policy!r}")
    subjects = np.asarray(clip_subjects, dtype=object)
    overlapping = sorted(o.macro_subject for o in overlap)
    hit = np.isin(subjects, overlapping)
    keep = ~hit if policy == "exclude" else np.ones(len(subjects), dtype=bool)
    if len(subjects) and not keep.any():
        raise ValueError(f"on_overlap exclude: every macro subject ({len(overlapping)}) is also "
                         "a micro-expression subject; no clip is left to pretrain on")
    record = {
        "policy": policy,
        "matched_by": matched_by,
        "subjects": [{"macro": o.macro_subject, "micro": list(o.micro_subjects),
                      "identity": o.identity} for o in overlap],
        "clips_overlapping": int(hit.sum()),
        "clips_dropped": int((~keep).sum()),
    }
    return OverlapDecision(keep=keep, record=record)
