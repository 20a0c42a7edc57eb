"""Where does fine-tuned MIACNet lose? Linear probes of its branches against its own head.

Usage (a project where `make experiments` has trained MIACNet's entries)::

    .venv/bin/python benchmarks/miacnet_probe.py --root . \\
        --entries default/miacnet experiments/miacnet_scratch experiments/miacnet_supervised

For each entry's fold checkpoints (``models/<entry>/fold_NN.pt``, the first seed) and for the
pretrain stage's checkpoint, the frozen features of each fold's network are probed LOSO as the
``pretrain`` stage probes MA2MI (:func:`mer.pretraining.probe.probe_fold`): the frame
branches (position, action, gate: :meth:`MIACNet.encoder_features`), the flow branch alone, and
the whole embedding the head reads (:meth:`MIACNet.embed`).
Prints the pooled UF1 of each probe; compare with the entry's own predictions (its head).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from mer.config import load_params
from mer.data.schema import LABELS
from mer.evaluation.metrics import uf1
from mer.models.base import grid_pool
from mer.models.miacnet import MIACNet
from mer.pretraining.probe import probe_fold
from mer.stages.train import labelled_subjects, load_features, make_job
from mer.training import FeatureSet
from mer.training.loso import FoldLike


class FlowBranch(MIACNet):
    """MIACNet whose probed features are the flow branch's, pooled as the head reads them."""

    def encoder_features(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(B, widths[-1] * pool_grid ** 2)`` features of the flow branch alone."""
        assert self.flow is not None
        return grid_pool(self.flow(inputs["flow"]), self.pool_grid)


class WholeEmbedding(MIACNet):
    """MIACNet whose probed features are the embedding its own head reads."""

    def encoder_features(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(B, D)``: :meth:`MIACNet.embed`."""
        return self.embed(inputs)


def probe_uf1(model: MIACNet, state_of_fold: Callable[[int], dict[str, Tensor]],
              data: FeatureSet, folds: list[FoldLike]) -> float:
    """Pooled UF1 of LOSO logistic regression on each fold network's frozen features."""
    y_true: list[int] = []
    y_pred: list[int] = []
    for k, fold in enumerate(folds):
        train = data.subject_indices([*fold.train_subjects, *fold.val_subjects])
        test = data.subject_indices([fold.test_subject])
        y_pred += probe_fold(model, state_of_fold(k), data, train, test).tolist()
        y_true += data.labels[test].tolist()
    return uf1(y_true, y_pred, len(LABELS))


def main() -> None:
    """Probe the pretrain checkpoint and each entry's fold networks; print the UF1s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project")
    parser.add_argument("--entries", nargs="+", default=["default/miacnet"],
                        help="folders under models/ holding fold_NN.pt")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params(args.root / "params.yaml")
    micro = args.root / "data/processed/micro"
    data = load_features(micro / "flow.parquet", micro / "flow", keys=("onset", "apex", "flow"))
    job = make_job(params, "miacnet", labelled_subjects(micro / "flow.parquet"))
    folds = list(job.folds)
    frames, flow, whole = (network(**job.params.hparams)
                           for network in (MIACNet, FlowBranch, WholeEmbedding))
    pretrained = torch.load(args.root / "models/pretrain/ma2mi.pt", weights_only=True)
    print(f"pretrain checkpoint, frame branches: UF1 "
          f"{probe_uf1(frames, lambda k: pretrained, data, folds):.3f}", flush=True)
    for entry in args.entries:
        def state(k: int, entry: str = entry) -> dict[str, Tensor]:
            return torch.load(args.root / "models" / entry / f"fold_{k:02d}.pt",
                              weights_only=True)
        print(f"{entry}: frame branches UF1 {probe_uf1(frames, state, data, folds):.3f}, "
              f"flow branch UF1 {probe_uf1(flow, state, data, folds):.3f}, "
              f"whole embedding UF1 {probe_uf1(whole, state, data, folds):.3f}", flush=True)


if __name__ == "__main__":
    main()
