from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mer.evaluation.folds import Fold, check_folds, loso_folds, subject_keys

SUBJECTS = [f"casme2/sub{i:02d}" for i in range(1, 9)] + ["samm/006", "samm/007", "smic/s1"]


def test_subject_keys_joins_dataset_and_subject():
    keys = subject_keys(["casme2", "samm"], ["sub01", "006"])
    assert keys.tolist() == ["casme2/sub01", "samm/006"]
    assert subject_keys("smic", "s1").tolist() == ["smic/s1"]


@pytest.mark.parametrize(("dataset", "subject"), [(["casme2"], ["a", "b"]), (["a/b"], ["s"]),
                                                  ([""], ["s"]), (["d"], [None])])
def test_subject_keys_rejects_bad_input(dataset, subject):
    with pytest.raises(ValueError, match="subject_keys"):
        subject_keys(dataset, subject)


def test_one_fold_per_subject_in_sorted_order():
    folds = loso_folds(list(reversed(SUBJECTS)) * 3, n_val_subjects=2, seed=7)
    assert [f.test_subject for f in folds] == sorted(SUBJECTS)
    assert [f.index for f in folds] == list(range(len(SUBJECTS)))
    check_folds(folds, SUBJECTS)


@given(n_subjects=st.integers(2, 30), n_val=st.integers(0, 28), seed=st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_folds_partition_and_draw_val_from_training_only(n_subjects, n_val, seed):
    subjects = [f"d/s{i}" for i in range(n_subjects)]
    n_val = min(n_val, n_subjects - 2)
    folds = loso_folds(subjects, n_val_subjects=n_val, seed=seed)
    check_folds(folds, subjects)
    assert sorted(f.test_subject for f in folds) == sorted(subjects)
    for fold in folds:
        assert len(fold.val_subjects) == n_val
        assert fold.test_subject not in fold.val_subjects
        assert fold.test_subject not in fold.train_subjects
        assert not set(fold.val_subjects) & set(fold.train_subjects)
        assert set(fold.val_subjects) | set(fold.train_subjects) == set(subjects) - {
            fold.test_subject}


def test_folds_are_deterministic_and_seeded():
    a = loso_folds(SUBJECTS, n_val_subjects=3, seed=1)
    assert a == loso_folds(list(reversed(SUBJECTS)), n_val_subjects=3, seed=1)
    others = [loso_folds(SUBJECTS, n_val_subjects=3, seed=s) for s in range(2, 6)]
    assert any(o != a for o in others)


def test_zero_validation_subjects():
    folds = loso_folds(SUBJECTS, n_val_subjects=0, seed=0)
    assert all(f.val_subjects == () for f in folds)
    assert all(len(f.train_subjects) == len(SUBJECTS) - 1 for f in folds)


@pytest.mark.parametrize(("subjects", "n_val", "seed"), [
    (["a/1"], 0, 0), (["a/1", "a/2"], 1, 0), (["a/1", "a/2", "a/3"], -1, 0),
    (["a/1", "a/2"], 0, -1), (["a/1", ""], 0, 0)])
def test_loso_folds_rejects_bad_arguments(subjects, n_val, seed):
    with pytest.raises(ValueError, match="loso_folds"):
        loso_folds(subjects, n_val_subjects=n_val, seed=seed)


def _tamper(folds: list[Fold], index: int, **changes) -> list[Fold]:
    folds = list(folds)
    folds[index] = dataclasses.replace(folds[index], **changes)
    return folds


def test_check_folds_names_the_fold_that_leaks_the_test_subject():
    folds = loso_folds(SUBJECTS, n_val_subjects=2, seed=0)
    f = folds[3]
    bad = _tamper(folds, 3, train_subjects=(*f.train_subjects, f.test_subject))
    with pytest.raises(ValueError, match=r"fold 3 \(test subject 'casme2/sub04'\)"):
        check_folds(bad, SUBJECTS)


def test_check_folds_catches_train_val_overlap_and_missing_subjects():
    folds = loso_folds(SUBJECTS, n_val_subjects=2, seed=0)
    f = folds[0]
    overlap = _tamper(folds, 0, train_subjects=(*f.train_subjects, f.val_subjects[0]))
    with pytest.raises(ValueError, match="fold 0.*both in train and validation"):
        check_folds(overlap, SUBJECTS)
    with pytest.raises(ValueError, match="fold 0.*missing \\['smic/s2'\\]"):
        check_folds(folds, [*SUBJECTS, "smic/s2"])


def test_check_folds_catches_a_subject_tested_twice_or_never():
    folds = loso_folds(SUBJECTS, n_val_subjects=0, seed=0)
    twice = _tamper(folds, 1, test_subject=folds[0].test_subject,
                    train_subjects=folds[0].train_subjects)
    with pytest.raises(ValueError, match="fold 1.*already tested by fold 0"):
        check_folds(twice, SUBJECTS)
    with pytest.raises(ValueError, match="never tested"):
        check_folds(folds[:-1], SUBJECTS)
