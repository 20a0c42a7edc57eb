"""Leave-one-subject-out (LOSO) folds, as in the MEGC2019 composite protocol.

Subjects are *global keys* ``"<dataset>/<subject>"`` (``"casme2/sub01"``, ``"samm/006"``), because
subject spellings repeat across corpora. There is one fold per subject, in sorted order; fold ``i``
tests subject ``i`` and trains on all the others. Optionally a few training subjects are set aside
for validation (early stopping, model choice) so that nothing is ever picked on the test subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Separator between the dataset and the subject in a global subject key.
KEY_SEP = "/"


@dataclass(frozen=True)
class Fold:
    """One LOSO fold.

    Attributes:
        index: position of the fold (0-based), equal to the test subject's rank in sorted order.
        test_subject: the held-out subject key.
        train_subjects: subjects to fit on (sorted; the validation subjects are not among them).
        val_subjects: subjects for validation (sorted; drawn from the non-test subjects; may be
            empty).
    """

    index: int
    test_subject: str
    train_subjects: tuple[str, ...]
    val_subjects: tuple[str, ...]


def subject_keys(dataset: Iterable[str] | str, subject: Iterable[str] | str) -> np.ndarray:
    """Return global subject keys ``"<dataset>/<subject>"``, element-wise.

    Args:
        dataset: a dataset name, or a sequence (e.g. a DataFrame column) of them.
        subject: a subject as spelled in that dataset, or a sequence of the same length.

    Returns:
        A 1-D object array of ``str`` (shape ``(n,)``; ``(1,)`` for two scalars).

    Raises:
        ValueError: if the lengths differ, a value is missing or empty, or a dataset name
            contains ``"/"`` (the key would be ambiguous).
    """
    datasets = [dataset] if isinstance(dataset, str) else list(dataset)
    subjects = [subject] if isinstance(subject, str) else list(subject)
    if len(datasets) != len(subjects):
        raise ValueError(
            f"subject_keys: {len(datasets)} datasets but {len(subjects)} subjects; "
            "pass one dataset per subject"
        )
    keys = np.empty(len(datasets), dtype=object)
    for i, (d, s) in enumerate(zip(datasets, subjects, strict=True)):
        if not isinstance(d, str) or not isinstance(s, str) or not d or not s:
            raise ValueError(f"subject_keys: row {i}: dataset {d!r} / subject {s!r} must be "
                             "non-empty strings")
        if KEY_SEP in d:
            raise ValueError(f"subject_keys: row {i}: dataset {d!r} contains {KEY_SEP!r}")
        keys[i] = f"{d}{KEY_SEP}{s}"
    return keys


def loso_folds(subjects: Sequence[str], *, n_val_subjects: int, seed: int) -> list[Fold]:
    """Build one fold per subject, in sorted subject order.

    The validation subjects of fold ``i`` are drawn without replacement from that fold's
    non-test subjects with ``numpy.random.default_rng([seed, i])``, so a fold's split depends only
    on ``seed``, its index and the subject set, never on the order ``subjects`` came in.

    Args:
        subjects: subject keys (``subject_keys`` output); repeats are allowed (e.g. one per clip)
            and collapse to one subject.
        n_val_subjects: how many non-test subjects each fold sets aside for validation; 0 gives
            no validation split. At least one training subject must remain.
        seed: non-negative seed of the validation draws.

    Returns:
        ``len(set(subjects))`` folds; fold ``i`` tests the ``i``-th subject in sorted order.

    Raises:
        ValueError: fewer than two subjects, a non-string or empty subject, a negative seed, or
            ``n_val_subjects`` outside ``0 .. n_subjects - 2``.
    """
    for s in subjects:
        if not isinstance(s, str) or not s:
            raise ValueError(f"loso_folds: subject {s!r} is not a non-empty string")
    ordered = sorted(set(subjects))
    if len(ordered) < 2:
        raise ValueError(f"loso_folds: need at least 2 subjects for LOSO, got {len(ordered)}")
    if isinstance(n_val_subjects, bool) or not isinstance(n_val_subjects, int | np.integer):
        raise ValueError(f"loso_folds: n_val_subjects must be an int, got {n_val_subjects!r}")
    if not 0 <= n_val_subjects <= len(ordered) - 2:
        raise ValueError(
            f"loso_folds: n_val_subjects={n_val_subjects} must be in 0..{len(ordered) - 2} "
            f"({len(ordered)} subjects, one tested and at least one left to train on)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"loso_folds: seed must be a non-negative int, got {seed!r}")

    folds = []
    for index, test in enumerate(ordered):
        rest = [s for s in ordered if s != test]
        if n_val_subjects:
            rng = np.random.default_rng([int(seed), index])
            picked = rng.choice(len(rest), size=n_val_subjects, replace=False)
            val = tuple(sorted(rest[i] for i in picked))
        else:
            val = ()
        chosen = set(val)
        train = tuple(s for s in rest if s not in chosen)
        folds.append(Fold(index=index, test_subject=test, train_subjects=train, val_subjects=val))
    return folds


def check_folds(folds: Sequence[Fold], all_subjects: Iterable[str]) -> None:
    """Check that ``folds`` are a valid LOSO split of ``all_subjects``.

    Every fold's test, train and validation subjects must be disjoint and together be exactly
    ``all_subjects``; fold indices must be 0..n-1 in order; every subject must be the test subject
    of exactly one fold.

    Raises:
        ValueError: naming the first offending fold (index and test subject) and the rule.
    """
    everyone = set(all_subjects)
    tested: dict[str, int] = {}
    for position, fold in enumerate(folds):
        where = f"fold {fold.index} (test subject {fold.test_subject!r})"
        if fold.index != position:
            raise ValueError(f"{where}: index {fold.index} at position {position}; "
                             "folds must be numbered 0..n-1 in order")
        train, val = set(fold.train_subjects), set(fold.val_subjects)
        if len(train) != len(fold.train_subjects) or len(val) != len(fold.val_subjects):
            raise ValueError(f"{where}: a train or validation subject is listed twice")
        if fold.test_subject in train or fold.test_subject in val:
            raise ValueError(f"{where}: the test subject is also a train or validation subject")
        if train & val:
            raise ValueError(f"{where}: subjects both in train and validation: "
                             f"{sorted(train & val)}")
        if not train:
            raise ValueError(f"{where}: no training subjects")
        covered = train | val | {fold.test_subject}
        if covered != everyone:
            missing, unknown = sorted(everyone - covered), sorted(covered - everyone)
            raise ValueError(f"{where}: does not partition the subjects "
                             f"(missing {missing}, unknown {unknown})")
        if fold.test_subject in tested:
            raise ValueError(f"{where}: subject already tested by fold "
                             f"{tested[fold.test_subject]}")
        tested[fold.test_subject] = fold.index
    untested = sorted(everyone - set(tested))
    if untested:
        raise ValueError(f"folds: subjects never tested: {untested}")
