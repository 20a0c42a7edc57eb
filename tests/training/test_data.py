"""FeatureSet construction rules, subsets and subject look-ups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from mer.training import FeatureSet
from mer.training.toy import toy_features


def _kwargs(n: int = 4) -> dict[str, Any]:
    return {
        "inputs": {"flow": torch.zeros(n, 3, 8, 8), "apex": torch.zeros(n, 1, 8, 8)},
        "labels": torch.arange(n, dtype=torch.int64) % 3,
        "subjects": np.array(["a/1", "a/1", "b/2", "b/2"][:n], dtype=object),
        "clips": np.array([f"c{i}" for i in range(n)], dtype=object),
    }


def test_a_valid_feature_set_has_its_length() -> None:
    assert len(FeatureSet(**_kwargs())) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": torch.tensor([0, 1, 3, 0])}, r"labels\[2\] = 3"),
        ({"labels": torch.tensor([0.0, 1.0, 2.0, 0.0])}, "1-D int64"),
        ({"clips": np.array(["c0", "c1", "c2"], dtype=object)}, "3 clips but 4 labels"),
        ({"subjects": np.array(["a", "b", 3, "c"], dtype=object)}, r"subjects\[2\] = 3"),
        ({"inputs": {"flow": torch.zeros(4, 2, 8, 8)}}, r"'flow' must be .*\(4, 3, H, W\)"),
        ({"inputs": {"flow": torch.zeros(4, 3, 8, 8, dtype=torch.float64)}}, "float32"),
        ({"inputs": {"depth": torch.zeros(4, 1, 8, 8)}}, "unknown input 'depth'"),
        ({"inputs": {}}, "no inputs"),
    ],
)
def test_broken_rules_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureSet(**{**_kwargs(), **change})


def test_subset_keeps_rows_aligned() -> None:
    data = toy_features(n_subjects=3, clips_per_subject=4, size=8)
    part = data.subset([5, 0])
    assert list(part.clips) == [data.clips[5], data.clips[0]]
    assert list(part.subjects) == ["toy/s01", "toy/s00"]
    assert torch.equal(part.labels, data.labels[[5, 0]])
    assert torch.equal(part.inputs["flow"][0], data.inputs["flow"][5])


def test_subject_indices_are_the_subjects_clips_ascending() -> None:
    data = toy_features(n_subjects=3, clips_per_subject=4, size=8)
    assert data.subject_indices(["toy/s02", "toy/s00"]).tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert data.subject_indices([]).tolist() == []
