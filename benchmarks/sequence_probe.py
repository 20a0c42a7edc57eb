"""How much of the class does each input carry? A linear probe of the flow stage's outputs.

Usage (a project whose flow stage has run; the development corpus to choose settings)::

    .venv/bin/python benchmarks/sequence_probe.py --root dev

For each input, leave-one-subject-out logistic regression (scikit-learn, class-balanced, C = 1,
features standardised on the training subjects) on the maps pooled to ``--grid`` x ``--grid``
(bilinear, antialiased); prints the pooled UF1. Inputs: the onset -> apex flow (u, v, strain)
that ``flow_logreg`` reads, its (u, v) alone, centred, per clip centred and at unit scale as the
models with ``normalise_flow`` read it, and with each subject's mean map subtracted (an
unlabelled per-subject normalisation); the grey difference apex - onset that
MIACNet's action branch reads, as written and with the apex shifted back by the clip's mean flow
(head drift out); and the sequence flows (``flow.sequence_frames``: all K - 1 fields, and
their mean over time) as the flow stage wrote them with the project's ``flow`` params, as written
and centred (each field minus its mean over the face, as ``attr_contrastive``'s
``centre_flows`` does). First it prints the mean absolute flow of each of the K - 1 fields (px of
the S-pixel crop), as written and centred: how the motion grows from the onset to the offset.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mer.evaluation.metrics import uf1
from mer.models.base import centre_fields, normalise_flow, resize
from mer.pretraining.ma2mi import warp
from mer.stages.train import load_features
from mer.training import FeatureSet


def pooled(maps: torch.Tensor, grid: int) -> np.ndarray:
    """``(N, C, H, W)`` maps -> ``(N, C * grid * grid)`` features (resized as models resize)."""
    return resize(maps, grid).flatten(1).numpy()


def loso_predict(features: np.ndarray, targets: np.ndarray, subjects: np.ndarray,
                 method: str = "predict") -> np.ndarray:
    """Leave-one-subject-out logistic regression (class-balanced, C = 1, features standardised on
    the training subjects) from ``features`` ``(N, D)`` to ``targets`` ``(N,)``: each clip's
    ``method`` output (``predict`` or ``decision_function``) from the fold that held it out."""
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000))
    return cross_val_predict(model, features, targets, groups=subjects, cv=LeaveOneGroupOut(),
                             method=method)


def loso_uf1(features: np.ndarray, data: FeatureSet) -> float:
    """Pooled UF1 of LOSO logistic regression on ``features`` ``(N, D)``."""
    labels = data.labels.numpy()
    return uf1(labels, loso_predict(features, labels, data.subjects), 3)


def standardised(maps: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` maps standardised per channel over all clips, as a model's input norm
    does before :func:`mer.models.base.normalise_flow` (no labels used)."""
    return (maps - maps.mean(dim=(0, 2, 3), keepdim=True)) / maps.std(dim=(0, 2, 3), keepdim=True)


def subject_centred(features: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """``features`` ``(N, D)`` minus the mean of each subject's rows (no labels used)."""
    out = features.copy()
    for subject in np.unique(subjects):
        rows = subjects == subject
        out[rows] -= out[rows].mean(axis=0)
    return out


def main() -> None:
    """Probe each input of ``--root`` and print its UF1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project")
    parser.add_argument("--grid", type=int, default=8, help="cells per side of the pooling")
    args = parser.parse_args()
    micro = args.root / "data/processed/micro"
    data = load_features(micro / "flow.parquet", micro / "flow",
                         keys=("flow", "flows", "onset", "apex"), sequence_dir=micro / "sequence")
    flows = data.inputs["flows"]  # (N, 2, K - 1, S, S)
    n, _, steps, side, _ = flows.shape
    centred = centre_fields(flows)
    flow, onset, apex = data.inputs["flow"], data.inputs["onset"], data.inputs["apex"]
    drift = flow[:, :2].mean(dim=(2, 3), keepdim=True).expand(-1, -1, *apex.shape[-2:])
    inputs = {
        "onset -> apex flow (u, v, strain)": flow,
        "onset -> apex flow (u, v)": flow[:, :2],
        "onset -> apex (u, v), centred": centre_fields(flow[:, :2]),
        "onset -> apex flow, normalised": normalise_flow(standardised(flow)),
        "grey apex - onset": apex - onset,
        "grey apex, drift out, - onset": warp(apex, drift) - onset,
        f"sequence flows, all {steps} fields": flows.reshape(n, 2 * steps, side, side),
        "sequence flows, mean over time": flows.mean(dim=2),
        f"centred, all {steps} fields": centred.reshape(n, 2 * steps, side, side),
        "centred, mean over time": centred.mean(dim=2),
    }
    print(f"{n} clips, {len(set(data.subjects))} subjects, sequences {tuple(flows.shape[1:])}")
    for name, fields in (("as written", flows), ("centred", centred)):
        print(f"mean |flow| per field, {name}: "
              + " ".join(f"{v:.4f}" for v in fields.abs().mean(dim=(0, 1, 3, 4)).tolist()))
    for name, maps in inputs.items():
        print(f"{name:>34}: UF1 {loso_uf1(pooled(maps, args.grid), data):.3f}")
    uv = pooled(flow[:, :2], args.grid)
    print(f"{'(u, v), each subject mean out':>34}: UF1 "
          f"{loso_uf1(subject_centred(uv, data.subjects), data):.3f}")


if __name__ == "__main__":
    main()
