"""Figures and DVC plot data of an evaluation, written byte-reproducibly.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no global backend or
state), rendered with Agg, and saved without the ``Software`` PNG text chunk so the bytes do not
carry the matplotlib version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mer.data.atomic import atomic_path, write_text
from mer.data.schema import LABELS
from mer.evaluation.metrics import confusion, per_subject_scores

_DPI: Final[int] = 100
_PNG_METADATA: Final[dict[str, None]] = {"Software": None}
_SAFE_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_DECIMALS: Final[int] = 6


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], title: str) -> Figure:
    """Draw a confusion matrix: counts, with each row's share (recall) in brackets.

    Args:
        matrix: ``(K, K)`` counts, true class on rows, predicted on columns.
        labels: K class names, in code order.
        title: the figure title.
    """
    m = np.asarray(matrix)
    k = len(labels)
    if m.shape != (k, k):
        raise ValueError(f"plot_confusion: matrix shape {m.shape} does not match {k} labels")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=np.float64), where=rows > 0)
    fig = Figure(figsize=(1.3 * k + 2.2, 1.2 * k + 1.6), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of true class")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(m[i, j])}\n({share[i, j]:.0%})", ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(k), labels=list(labels))
    ax.set_yticks(range(k), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    return fig


def plot_per_subject(per_subject_df: pd.DataFrame, title: str) -> Figure:
    """Draw per-subject UF1 and accuracy as grouped bars, with each subject's clip count.

    Args:
        per_subject_df: :func:`mer.evaluation.metrics.per_subject_scores` output (columns
            ``subject, n, accuracy, uf1``).
        title: the figure title.
    """
    missing = [c for c in ("subject", "n", "accuracy", "uf1") if c not in per_subject_df.columns]
    if missing:
        raise ValueError(f"plot_per_subject: missing columns {missing}")
    df = per_subject_df.reset_index(drop=True)
    n = len(df)
    x = np.arange(n)
    fig = Figure(figsize=(max(6.0, 0.22 * n + 2.0), 4.0), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    width = 0.4
    ax.bar(x - width / 2, df["uf1"].to_numpy(dtype=float), width, label="UF1")
    ax.bar(x + width / 2, df["accuracy"].to_numpy(dtype=float), width, label="accuracy")
    for xi, count in zip(x, df["n"].to_numpy(), strict=True):
        ax.text(xi, 1.01, str(int(count)), ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x, labels=df["subject"].astype(str).tolist(), rotation=90, fontsize=7)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0.0, 1.1)
    ax.set_ylabel("score (clip count above)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def _models(predictions: pd.DataFrame) -> list[str]:
    missing = [c for c in ("model", "dataset", "subject", "clip", "y_true", "y_pred")
               if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions: missing columns {missing}")
    models = sorted(predictions["model"].astype(str).unique())
    for model in models:
        if not _SAFE_NAME.match(model):
            raise ValueError(f"predictions: model name {model!r} cannot be a file name part; "
                             "use letters, digits, '.', '_', '+', '-'")
    return models


def _rows(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    rows = predictions[predictions["model"].astype(str) == model]
    return rows.sort_values(["dataset", "subject", "clip"], kind="stable").reset_index(drop=True)


def _save_png(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    return path


def write_figures(predictions: pd.DataFrame, out_dir: str | Path, *,
                  labels: Sequence[str] = LABELS) -> list[Path]:
    """Write ``confusion_<model>.png`` and ``per_subject_<model>.png`` for every model.

    Args:
        predictions: the predictions frame (``model, dataset, subject, clip, y_true, y_pred``).
        out_dir: folder to write into (created).
        labels: class names in code order.

    Returns:
        The paths written, in model order.
    """
    out = Path(out_dir)
    written = []
    for model in _models(predictions):
        rows = _rows(predictions, model)
        matrix = confusion(rows["y_true"].to_numpy(), rows["y_pred"].to_numpy(), len(labels))
        fig = plot_confusion(matrix, labels, f"{model}: pooled LOSO confusion")
        written.append(_save_png(fig, out / f"confusion_{model}.png"))
        scores = per_subject_scores(rows, n_classes=len(labels))
        fig = plot_per_subject(scores, f"{model}: per subject (LOSO)")
        written.append(_save_png(fig, out / f"per_subject_{model}.png"))
    return written


def write_plot_data(predictions: pd.DataFrame, out_dir: str | Path, *,
                    labels: Sequence[str] = LABELS) -> list[Path]:
    """Write DVC plot data for every model.

    - ``confusion_<model>.csv``: columns ``actual, predicted`` (label names), one row per clip
      sorted by dataset, subject, clip; for ``dvc plots``' ``confusion`` template with
      ``x: actual, y: predicted``.
    - ``per_subject_<model>.csv``: :func:`per_subject_scores` output (floats to 6 decimals).

    Returns:
        The paths written, in model order.
    """
    out = Path(out_dir)
    names = np.asarray(list(labels), dtype=object)
    written = []
    for model in _models(predictions):
        rows = _rows(predictions, model)
        # confusion() validates the codes before they index the label names.
        confusion(rows["y_true"].to_numpy(), rows["y_pred"].to_numpy(), len(labels))
        pairs = pd.DataFrame({
            "actual": names[rows["y_true"].to_numpy(dtype=np.int64)],
            "predicted": names[rows["y_pred"].to_numpy(dtype=np.int64)],
        })
        written.append(write_text(out / f"confusion_{model}.csv",
                                  pairs.to_csv(index=False, lineterminator="\n")))
        scores = per_subject_scores(rows, n_classes=len(labels)).round(_DECIMALS)
        written.append(write_text(out / f"per_subject_{model}.csv",
                                  scores.to_csv(index=False, lineterminator="\n")))
    return written
