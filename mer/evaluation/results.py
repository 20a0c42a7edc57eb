"""Evaluation results: trained entries' predictions read and checked, byte-stable metrics and
tables out.

A predictions frame has one row per (model, clip) with the columns of :data:`PREDICTION_COLUMNS`:
``model, dataset, subject, clip, fold, y_true, y_pred, prob_negative, prob_positive,
prob_surprise``. ``subject`` is spelled as in its dataset; the global subject key is
``"<dataset>/<subject>"`` (:func:`mer.evaluation.folds.subject_keys`). A clip is identified by
``(dataset, clip)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from mer.data.atomic import write_parquet, write_text
from mer.data.errors import DataError
from mer.data.schema import LABELS
from mer.evaluation.folds import Fold, subject_keys
from mer.evaluation.paired import SEED_COLUMN, runs_of, seed_summary

#: Probability columns, in class-code order.
PROB_COLUMNS: Final[tuple[str, ...]] = tuple(f"prob_{label}" for label in LABELS)

#: Columns of a predictions frame, in the order they are written.
PREDICTION_COLUMNS: Final[tuple[str, ...]] = (
    "model", "dataset", "subject", "clip", "fold", "y_true", "y_pred", *PROB_COLUMNS)

#: Arrow schema of ``predictions.parquet`` (the canonical columns; extra columns follow them).
PREDICTION_SCHEMA: Final[pa.Schema] = pa.schema(
    [pa.field("model", pa.string(), nullable=False),
     pa.field("dataset", pa.string(), nullable=False),
     pa.field("subject", pa.string(), nullable=False),
     pa.field("clip", pa.string(), nullable=False),
     pa.field("fold", pa.int32(), nullable=False),
     pa.field("y_true", pa.int32(), nullable=False),
     pa.field("y_pred", pa.int32(), nullable=False)]
    + [pa.field(c, pa.float64(), nullable=False) for c in PROB_COLUMNS]
)

#: Rows of the written Parquet file and of the CSVs are in this order.
SORT_COLUMNS: Final[tuple[str, ...]] = ("model", "dataset", "subject", "clip")

_SCORE_COLUMNS: Final[tuple[str, ...]] = ("model", "dataset", "subject", "clip", "y_true",
                                          "y_pred")
_OPTIONAL_SCORE_COLUMNS: Final[tuple[str, ...]] = (SEED_COLUMN,)
_DECIMALS: Final[int] = 6
_PROB_TOLERANCE: Final[float] = 1e-3
_ALL: Final[str] = "all"


def _require(predictions: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise DataError(where, f"predictions lack columns {missing}; expected {list(columns)}")
    for column in columns:
        nulls = predictions[column].isna().to_numpy()
        if nulls.any():
            row = predictions.iloc[int(np.flatnonzero(nulls)[0])]
            raise DataError(where, f"column {column!r} is null for {_clip_name(row)}")


def _clip_name(row: pd.Series) -> str:
    clip = "clip " + "/".join(str(row.get(c, "?")) for c in ("dataset", "subject", "clip"))
    return f"model {str(row['model'])!r} {clip}" if "model" in row else clip


def _check_codes(predictions: pd.DataFrame, n_classes: int, where: str) -> None:
    for column in ("y_true", "y_pred"):
        values = pd.to_numeric(predictions[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | \
            (values >= n_classes)
        if bad.any():
            row = predictions.iloc[int(np.flatnonzero(bad)[0])]
            raise DataError(where, f"{_clip_name(row)}: {column} = {row[column]} is not a "
                                   f"class code in 0..{n_classes - 1}")
    bad_dataset = predictions["dataset"].astype(str).isin([_ALL]).to_numpy()
    if bad_dataset.any():
        row = predictions.iloc[int(np.flatnonzero(bad_dataset)[0])]
        raise DataError(where, f"{_clip_name(row)}: dataset may not be named {_ALL!r} "
                               "(reserved for the pooled scores)")


def _scores(frame: pd.DataFrame, *, n_classes: int, n_resamples: int, seed: int) -> dict:
    runs = runs_of(frame, n_classes)
    return _rounded({"n_clips": int(len(frame) // len(runs.seeds)),
                     "n_subjects": len(runs.subjects),
                     **seed_summary(runs, n_resamples=n_resamples, seed=seed)})


def _rounded(value: Any) -> Any:
    """Floats rounded to :data:`_DECIMALS` (in nested dicts and lists too), keys sorted."""
    if isinstance(value, dict):
        return {key: _rounded(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return round(value, _DECIMALS) if isinstance(value, float) else value


def summarise(predictions: pd.DataFrame, *, n_classes: int = len(LABELS),
              n_resamples: int = 1000, seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    """Score each model on all its clips pooled, and on each dataset's clips.

    Per-dataset scores are the same (composite, LOSO over all subjects) predictions restricted to
    that dataset's clips, as in MEGC2019; they are not separate runs. CIs are subject-level
    percentile bootstraps (:func:`mer.evaluation.metrics.bootstrap_ci`) with the same ``seed``
    for every entry.

    Args:
        predictions: the predictions frame (needs ``model, dataset, subject, clip, y_true,
            y_pred``).
        n_classes: K.
        n_resamples: bootstrap resamples per entry.
        seed: bootstrap seed.

    Returns:
        ``{model: {"all": entry, <dataset>: entry, ...}}`` with ``entry = {"accuracy", "n_clips",
        "n_subjects", "uar", "uar_ci": [lo, hi], "uar_sd", "uf1", "uf1_ci": [lo, hi], "uf1_sd",
        "seeds": {seed: {"accuracy", "uar", "uf1"}}}``: with a ``seed`` column (one run per
        training seed) the scores are means over seeds and ``*_sd`` their spread
        (:func:`mer.evaluation.paired.seed_summary`); floats rounded to 6 decimals and keys
        sorted at every level, so ``json.dumps`` of it is byte-stable.

    Raises:
        DataError: a column is missing or null, a code is out of range, or a dataset is named
            ``"all"``.
    """
    where = "predictions"
    _require(predictions, _SCORE_COLUMNS, where)
    if predictions.empty:
        raise DataError(where, "no predictions to summarise")
    _check_codes(predictions, n_classes, where)
    columns = [*_SCORE_COLUMNS, *(c for c in _OPTIONAL_SCORE_COLUMNS if c in predictions)]
    frame = predictions.loc[:, columns].astype(
        {"model": str, "dataset": str, "subject": str, "clip": str})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for model in sorted(frame["model"].unique()):
        rows = frame[frame["model"] == model]
        entry = {_ALL: _scores(rows, n_classes=n_classes, n_resamples=n_resamples, seed=seed)}
        for dataset in sorted(rows["dataset"].unique()):
            entry[dataset] = _scores(rows[rows["dataset"] == dataset], n_classes=n_classes,
                                     n_resamples=n_resamples, seed=seed)
        out[model] = dict(sorted(entry.items()))
    return out


def check_predictions(predictions: pd.DataFrame,
                      folds_by_model: Mapping[str, Sequence[Fold]] | Sequence[Fold], *,
                      expected_clips: pd.DataFrame | None = None,
                      n_classes: int = len(LABELS)) -> None:
    """Check that predictions are a clean LOSO run.

    Rules, each raising :class:`~mer.data.errors.DataError` naming the model and clip:

    - all :data:`PREDICTION_COLUMNS` are present and non-null; codes in ``0..n_classes-1``;
      probabilities in [0, 1], summing to 1 (within 1e-3) when there is one per class;
    - every clip is predicted at most once per model and training seed (``seed`` column, if
      any);
    - each clip was predicted by the fold whose test subject is the clip's subject (so no clip
      was scored by a model that saw its subject);
    - with ``expected_clips`` (columns ``dataset, subject, clip``), every model predicts exactly
      those clips, each exactly once, under the same subject.

    Args:
        predictions: the predictions frame.
        folds_by_model: each model's folds, or one list of folds shared by every model.
        expected_clips: optional table of the clips every model must predict.
        n_classes: K.
    """
    where = "predictions"
    _require(predictions, PREDICTION_COLUMNS, where)
    _check_codes(predictions, n_classes, where)
    probs = predictions.loc[:, list(PROB_COLUMNS)].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1) | (probs > 1).any(axis=1)
    if len(PROB_COLUMNS) == n_classes:
        bad |= np.abs(probs.sum(axis=1) - 1.0) > _PROB_TOLERANCE
    if bad.any():
        row = predictions.iloc[int(np.flatnonzero(bad)[0])]
        values = [float(row[c]) for c in PROB_COLUMNS]
        raise DataError(where, f"{_clip_name(row)}: probabilities {values} are not in [0, 1] "
                               "summing to 1")

    run = ["model", *(c for c in _OPTIONAL_SCORE_COLUMNS if c in predictions)]
    duplicated = predictions.duplicated(subset=[*run, "dataset", "clip"], keep=False).to_numpy()
    if duplicated.any():
        row = predictions.iloc[int(np.flatnonzero(duplicated)[0])]
        folds = predictions.loc[(predictions["model"] == row["model"])
                                & (predictions["dataset"] == row["dataset"])
                                & (predictions["clip"] == row["clip"]), "fold"].tolist()
        raise DataError(where, f"{_clip_name(row)} is predicted more than once "
                               f"(folds {folds}); each clip must be predicted exactly once")

    fold_numbers = pd.to_numeric(predictions["fold"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(fold_numbers) | (fold_numbers != np.round(fold_numbers))
    if bad.any():
        row = predictions.iloc[int(np.flatnonzero(bad)[0])]
        raise DataError(where, f"{_clip_name(row)}: fold {row['fold']} is not a fold index")

    keys = subject_keys(predictions["dataset"].astype(str), predictions["subject"].astype(str))
    for model in sorted(predictions["model"].astype(str).unique()):
        folds = _folds_of(folds_by_model, model)
        test_of = {fold.index: fold.test_subject for fold in folds}
        mask = (predictions["model"].astype(str) == model).to_numpy()
        for i in np.flatnonzero(mask):
            row = predictions.iloc[int(i)]
            fold = int(row["fold"])
            if fold not in test_of:
                raise DataError(where, f"{_clip_name(row)}: fold {fold} is not one of the "
                                       f"model's {len(test_of)} folds")
            if test_of[fold] != keys[i]:
                raise DataError(where, f"{_clip_name(row)}: predicted by fold {fold}, which "
                                       f"tests {test_of[fold]!r}, not the clip's subject "
                                       f"{keys[i]!r}")
        if expected_clips is not None:
            _check_coverage(predictions[mask], expected_clips, model, where)


def _folds_of(folds_by_model: Mapping[str, Sequence[Fold]] | Sequence[Fold],
              model: str) -> Sequence[Fold]:
    if isinstance(folds_by_model, Mapping):
        if model not in folds_by_model:
            raise DataError("predictions", f"model {model!r} has predictions but no folds "
                                           f"(folds given for {sorted(folds_by_model)})")
        return folds_by_model[model]
    return folds_by_model


def _check_coverage(rows: pd.DataFrame, expected: pd.DataFrame, model: str, where: str) -> None:
    missing_columns = [c for c in ("dataset", "subject", "clip") if c not in expected.columns]
    if missing_columns:
        raise DataError("expected_clips", f"lacks columns {missing_columns}")
    want = {(str(d), str(c)): str(s) for d, s, c in
            expected.loc[:, ["dataset", "subject", "clip"]].itertuples(index=False)}
    got = {(str(d), str(c)): str(s) for d, s, c in
           rows.loc[:, ["dataset", "subject", "clip"]].itertuples(index=False)}
    for key in sorted(set(want) - set(got)):
        raise DataError(where, f"model {model!r} clip {key[0]}/{want[key]}/{key[1]} is never "
                               "predicted")
    for key in sorted(set(got) - set(want)):
        raise DataError(where, f"model {model!r} clip {key[0]}/{got[key]}/{key[1]} is predicted "
                               "but not in the expected clips")
    for key in sorted(want):
        if want[key] != got[key]:
            raise DataError(where, f"model {model!r} clip {key[0]}/{key[1]}: subject "
                                   f"{got[key]!r}, expected {want[key]!r}")


def summary_table(metrics: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Render :func:`summarise` output as a fixed-width text table (one line per model/dataset).

    Columns: model, dataset, UF1 [CI], UAR [CI], accuracy, clips, subjects; ``all`` first within
    each model. Ends with a newline.
    """
    header = ("model", "dataset", "UF1 [95% CI]", "UAR [95% CI]", "acc", "clips", "subjects")
    lines = []
    for model in sorted(metrics):
        datasets = sorted(metrics[model], key=lambda d: (d != _ALL, d))
        for dataset in datasets:
            e = metrics[model][dataset]
            lines.append((
                str(model), str(dataset),
                f"{e['uf1']:.3f} [{e['uf1_ci'][0]:.3f}, {e['uf1_ci'][1]:.3f}]",
                f"{e['uar']:.3f} [{e['uar_ci'][0]:.3f}, {e['uar_ci'][1]:.3f}]",
                f"{e['accuracy']:.3f}", str(e["n_clips"]), str(e["n_subjects"])))
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    left = {0, 1}

    def fmt(row: Sequence[str]) -> str:
        cells = [c.ljust(w) if i in left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in lines)]) + "\n"


def metrics_json(metrics: Mapping[str, Any]) -> str:
    """Serialise metrics deterministically: sorted keys, indent 2, trailing newline, no NaN."""
    return json.dumps(metrics, sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_metrics(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as JSON (see :func:`metrics_json`) to ``path`` atomically."""
    return write_text(path, metrics_json(metrics))


def predictions_table(predictions: pd.DataFrame) -> pa.Table:
    """Return predictions as an Arrow table: canonical columns and types, then extra columns in
    name order; rows sorted by model, dataset, subject, clip; no pandas metadata (so the bytes do
    not depend on the pandas version)."""
    _require(predictions, PREDICTION_COLUMNS, "predictions")
    extra = sorted(c for c in predictions.columns if c not in PREDICTION_COLUMNS)
    frame = predictions.loc[:, [*PREDICTION_COLUMNS, *extra]].astype(
        {c: str for c in SORT_COLUMNS})
    frame = frame.sort_values(list(SORT_COLUMNS), kind="stable").reset_index(drop=True)
    canonical = pa.Table.from_pandas(frame.loc[:, list(PREDICTION_COLUMNS)],
                                     schema=PREDICTION_SCHEMA, preserve_index=False)
    for column in extra:
        canonical = canonical.append_column(column, pa.array(frame[column]))
    return canonical.replace_schema_metadata(None)


def write_predictions(path: str | Path, predictions: pd.DataFrame) -> Path:
    """Write predictions (see :func:`predictions_table`) to ``path`` as Parquet, atomically."""
    return write_parquet(path, predictions_table(predictions))


def robustness_table(metrics: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
                     baseline: str = "clean") -> str:
    """Render robustness metrics as a Markdown table: one row per model, pooled scores only.

    ``metrics`` maps condition -> :func:`summarise` output; ``metrics[baseline]`` is the
    unperturbed run. Each other condition gets UF1 and UAR with the change from the baseline
    in brackets, e.g. ``0.412 (-0.061)``. Models missing from a condition show ``-``.
    """
    conditions = [c for c in metrics if c != baseline]
    header = ["model", f"{baseline} UF1", f"{baseline} UAR"]
    header += [f"{c} {score}" for c in conditions for score in ("UF1", "UAR")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in sorted(metrics[baseline]):
        clean = metrics[baseline][model][_ALL]
        cells = [model, f"{clean['uf1']:.3f}", f"{clean['uar']:.3f}"]
        for condition in conditions:
            scores = metrics[condition].get(model, {}).get(_ALL)
            for score in ("uf1", "uar"):
                cells.append("-" if scores is None else
                             f"{scores[score]:.3f} ({scores[score] - clean[score]:+.3f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_model_predictions(predictions_dirs: Sequence[Path], models_dirs: Sequence[Path],
                           entries: Sequence[str]) -> tuple[pd.DataFrame, dict[str, list[Fold]]]:
    """Read each model entry's predictions and the folds recorded beside its checkpoints
    (each entry's files are looked for in the given folders, in order)."""
    frames, folds = [], {}
    for entry in entries:
        frames.append(pd.read_parquet(_first(predictions_dirs, f"{entry}.parquet")))
        config = yaml.safe_load(_first(models_dirs, f"{entry}/config.yaml").read_text("utf-8"))
        folds[entry] = [Fold(f["index"], f["test_subject"], tuple(f["train_subjects"]),
                             tuple(f["val_subjects"])) for f in config["folds"]]
    return pd.concat(frames, ignore_index=True), folds


def _first(folders: Sequence[Path], name: str) -> Path:
    """The first ``folder/name`` that exists (the last candidate, to be named, if none does)."""
    candidates = [folder / name for folder in folders]
    return next((path for path in candidates if path.exists()), candidates[-1])
