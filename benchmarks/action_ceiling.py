"""How much of the class could a perfect reader of the facial actions get, and where do models lose?

Usage (a project on an embedded corpus whose flow stage has run: the default or ``mer dev``)::

    .venv/bin/python benchmarks/action_ceiling.py --root dev \
        [--predictions dev/data/processed/predictions/default/*.parquet]

The embedded corpus is generated from a plan (:func:`mer.synth.generate.plan_corpus`, from the
project's ``synth`` params): per clip the rendered AU code and the peak displacement. SMIC-layout
clips have no AU sheet, so the plan is the only place their AUs are written. This script joins the
plan to the labelled clips that reached the flow stage and prints:

- the **AU ceiling**: leave-one-subject-out logistic regression (``sequence_probe.loso_uf1``) on
  the rendered AU numbers (multi-hot, sides merged), i.e. a linear reader that knew exactly which
  facial actions were rendered; with and without each clip's amplitude;
- how well the flow holds each action: per rendered AU present in at least ``MIN_CLIPS`` clips,
  the ROC AUC of a leave-one-subject-out logistic regression from the 8 x 8 (u, v, strain) maps
  ``flow_logreg`` reads to that AU's presence;
- for each model of each ``--predictions`` file (a pipeline or ``loso_benchmark.py`` predictions
  parquet: ``model``, ``dataset``, ``subject``, ``clip``, ``y_true``, ``y_pred``; seeds pooled),
  its pooled UF1 on the thirds of the clips by amplitude (low,
  middle, high peak displacement), so a model that reads strong actions and misses weak ones shows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sequence_probe import loso_predict, loso_uf1, pooled
from sklearn.metrics import roc_auc_score

from mer.data.readers.casme2 import clip_id
from mer.data.schema import LABELS
from mer.evaluation.metrics import uf1
from mer.stages.train import load_features
from mer.synth import SynthConfig
from mer.synth.actions import parse_code
from mer.synth.generate import plan_corpus

AMPLITUDE_THIRDS = ("low", "middle", "high")
#: Fewest clips an AU must be rendered in for its flow reader to be scored.
MIN_CLIPS = 6


def rendered_actions(root: Path) -> pd.DataFrame:
    """The plan of every micro clip of ``root``'s embedded corpus: ``dataset``, ``subject``,
    ``clip`` (as the readers name it), ``au_code`` and ``amplitude`` (px at a 128 px face)."""
    synth = yaml.safe_load((root / "params.yaml").read_text())["synth"]
    _, plans = plan_corpus(SynthConfig(**synth["config"]), synth["seed"])
    return pd.DataFrame([
        {"dataset": p.dataset, "subject": p.subject,
         "clip": clip_id(p.subject, p.clip) if p.dataset == "casme2" else p.clip,
         "au_code": p.au_code, "amplitude": p.amplitude}
        for p in plans if p.dataset != "ck"
    ])


def action_matrix(codes: pd.Series) -> tuple[np.ndarray, list[int]]:
    """AU codes (``"4+L10"``) -> ``(N, n_AUs)`` multi-hot of the AU numbers (sides merged) and
    those numbers."""
    numbers = [{unit.number for unit in parse_code(code)} for code in codes]
    vocabulary = sorted(set().union(*numbers))
    return np.array([[n in clip for n in vocabulary] for clip in numbers], dtype=float), vocabulary


def action_auc(features: np.ndarray, present: np.ndarray, subjects: np.ndarray) -> float:
    """ROC AUC of LOSO logistic regression (``sequence_probe.loso_predict``) from ``features``
    ``(N, D)`` to one AU's presence ``(N,)``."""
    return float(roc_auc_score(present, loso_predict(features, present, subjects,
                                                     method="decision_function")))


def by_amplitude(predictions: pd.DataFrame, plan: pd.DataFrame) -> dict[str, float]:
    """Pooled UF1 of ``predictions`` on each third of its clips by rendered amplitude."""
    joined = predictions.merge(plan, on=["dataset", "subject", "clip"], how="left")
    if joined["amplitude"].isna().any():
        missing = joined.loc[joined["amplitude"].isna(), "clip"].iloc[0]
        raise ValueError(f"clip {missing!r} of the predictions is not in the corpus's plan")
    thirds = pd.qcut(joined["amplitude"], len(AMPLITUDE_THIRDS), labels=AMPLITUDE_THIRDS)
    return {name: uf1(part["y_true"], part["y_pred"], 3)
            for name, part in joined.groupby(thirds, observed=True)}


def main() -> None:
    """Print the AU ceiling of ``--root`` and the amplitude split of each predictions file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project")
    parser.add_argument("--predictions", type=Path, nargs="*", default=[],
                        help="predictions parquets to split by amplitude")
    args = parser.parse_args()
    micro = args.root / "data/processed/micro"
    data = load_features(micro / "flow.parquet", micro / "flow", keys=("flow",))
    flow_maps = pooled(data.inputs["flow"], 8)
    clips = pd.read_parquet(micro / "flow.parquet", columns=["dataset", "subject", "clip", "label"])
    clips = clips[clips["label"].notna()].reset_index(drop=True)
    plan = rendered_actions(args.root)
    joined = clips.merge(plan, on=["dataset", "subject", "clip"], how="left", validate="1:1")
    codes = joined["label"].map(LABELS.index).to_numpy()
    if (len(joined) != len(data.labels) or joined["au_code"].isna().any()
            or not np.array_equal(codes, data.labels.numpy())):
        raise ValueError("the labelled clips of the flow stage do not match the corpus's plan")
    actions, numbers = action_matrix(joined["au_code"])
    amplitude = joined["amplitude"].to_numpy()[:, None]
    print(f"{len(joined)} labelled clips, {len(set(data.subjects))} subjects, "
          f"{actions.shape[1]} AUs rendered")
    print(f"AU ceiling (linear on the rendered AUs): UF1 {loso_uf1(actions, data):.3f}")
    print(f"  with the amplitude: UF1 {loso_uf1(np.c_[actions, actions * amplitude], data):.3f}")
    frequent = [k for k in range(len(numbers)) if actions[:, k].sum() >= MIN_CLIPS]
    print("each AU from the flow (LOSO linear reader, ROC AUC): " + "  ".join(
        f"AU{numbers[k]} {action_auc(flow_maps, actions[:, k], data.subjects):.2f}"
        for k in frequent))
    edges = np.quantile(amplitude, [1 / 3, 2 / 3])
    print(f"amplitude thirds (px at 128 px): below {edges[0]:.2f}, to {edges[1]:.2f}, above")
    for path in args.predictions:
        for model, predictions in pd.read_parquet(path).groupby("model"):
            scores = by_amplitude(predictions, plan)
            print(f"{model:>20} ({path.name}): "
                  + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
