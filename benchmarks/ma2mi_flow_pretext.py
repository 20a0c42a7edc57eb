"""Would MA2MI help if its action code read the flow? A development-corpus experiment.

MA2MI (``mer.pretraining.ma2mi``) pretrains MIACNet's frame branches, but the class information
of the micro clips is in the flow branch (``benchmarks/miacnet_probe.py``), which MA2MI never
sees. This variant pretrains the flow branch instead: frame ``j`` of a macro clip is
reconstructed from the position features of frame 0 and an action code of the flow encoder's map
of the TV-L1 flow 0 -> ``j`` (u, v, strain, solved at the aligned frames' size as the flow stage
solves it, standardised per channel), gated by the position map; the same decoder, loss,
optimiser and epochs as the ``pretrain`` stage, the same held-out macro subjects. Then MIACNet
(the ``miacnet`` entry) is fine-tuned from its ``position``, ``flow`` and ``gate`` weights on the
first LOSO folds; its predictions are written to pair with other runs of the same folds.

Usage (never on the reported corpus)::

    .venv/bin/python benchmarks/ma2mi_flow_pretext.py --root dev --seed 0 --max-folds 8 \
        --samples 5 --out dev_flow_ma2mi.s0.parquet
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from torch import Tensor

from mer.config import MA2MIConfig, TVL1Params, load_params
from mer.evaluation.results import summarise
from mer.flow.features import to_grey
from mer.flow.sequence import sequence_flows, sequence_positions
from mer.flow.strain import optical_strain
from mer.models import create_model
from mer.models.base import resize
from mer.models.miacnet import ConvEncoder, MIACNet
from mer.pretraining.ma2mi import MA2MINet, held_out_subjects, reconstruction_loss, warp
from mer.pretraining.transfer import complete_state
from mer.stages.train import labelled_subjects, load_features, make_job, predictions_frame
from mer.training.registry import get_trainer

#: Per-channel mean and standard deviation ``(1, 3, 1, 1)`` of the training pairs' flows.
Standard = tuple[Tensor, Tensor]


class FlowMA2MI(MA2MINet):
    """MA2MI's reconstructor with MIACNet's flow encoder (``flow``) in place of the
    frame-difference one (``action``).

    Shapes: ``now`` ``(B, 1, s, s)`` grey in [0, 1], ``flow`` ``(B, 3, s, s)`` standardised
    (u, v, strain) -> predicted frame ``(B, 1, s, s)``.
    """

    def __init__(self, widths: tuple[int, ...], code_dim: int) -> None:
        super().__init__(widths, code_dim)
        del self.action
        self.flow = ConvEncoder(3, widths)

    def forward(self, now: Tensor, flow: Tensor) -> Tensor:
        """Warp ``now`` by the decoded displacement and add the decoded intensity change."""
        position = self.position(now)
        gated, _ = self.gate(position, self.flow(flow))
        out = self.decoder(position, self.code(gated.mean(dim=(2, 3))))
        return warp(now, out[:, :2]) + out[:, 2:]


def pretext_pairs(root: Path, samples: int, size: int, solver_params: TVL1Params
                  ) -> tuple[Tensor, Tensor, Tensor, list[str], np.ndarray]:
    """Frames 0 and ``j`` and the flow 0 -> ``j`` of ``samples - 1`` frames per aligned macro clip.

    Returns:
        ``now``, ``future`` ``(P, 1, size, size)``, ``flow`` ``(P, 3, size, size)`` (pixels of
        the aligned frame), the clips' subject keys and ``(P,)`` the clip index of each pair.
    """
    rows = [r for r in pq.read_table(root / "data/interim/macro/faces.parquet").to_pylist()
            if r["status"] == "aligned"]
    greys = []
    for row in rows:
        with np.load(root / "data/interim/macro/faces" / row["path"]) as arrays:
            greys.append(to_grey(arrays["frames"], row["clip"]))
    positions = [sequence_positions(0, len(grey) - 1, samples) for grey in greys]
    flows = sequence_flows(greys, positions, solver_params, 64, size=greys[0].shape[1],
                           reference="onset")
    now, future, flow3 = [], [], []
    for grey, pos, flow in zip(greys, positions, flows, strict=True):
        field = torch.from_numpy(flow)
        flow3.append(resize(torch.cat([field, optical_strain(field)], dim=1), size))
        frames = torch.from_numpy(grey.astype(np.float32) / 255.0)[:, None]
        now.append(resize(frames[[pos[0]] * (len(pos) - 1)], size).clamp(0.0, 1.0))
        future.append(resize(frames[pos[1:]], size).clamp(0.0, 1.0))
    clip_of = np.concatenate([[i] * (len(pos) - 1) for i, pos in enumerate(positions)])
    subjects = [f"{r['dataset']}/{r['subject']}" for r in rows]
    return torch.cat(now), torch.cat(future), torch.cat(flow3), subjects, clip_of


def train_pretext(net: FlowMA2MI, now: Tensor, future: Tensor, flow: Tensor, scale: Standard,
                  config: MA2MIConfig) -> float:
    """Train ``net`` as the pretrain stage trains MA2MI (left-right flips negate ``u``), the
    flows standardised by ``scale``; return the last epoch's error / copy error."""
    mean, std = scale
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    rng = np.random.default_rng(config.seed)
    ratio = 1.0
    for _ in range(config.epochs):
        order = rng.permutation(len(now))
        net.train()
        error = copy = 0.0
        for batch in np.array_split(order, math.ceil(len(order) / config.batch_size)):
            index = torch.from_numpy(batch)
            flip = torch.from_numpy(rng.random(len(batch)) < 0.5).view(-1, 1, 1, 1)
            mirrored = flow[index].flip(-1) * torch.tensor([-1.0, 1.0, 1.0]).view(1, 3, 1, 1)
            field = (torch.where(flip, mirrored, flow[index]) - mean) / std
            x_now = torch.where(flip, now[index].flip(-1), now[index])
            x_future = torch.where(flip, future[index].flip(-1), future[index])
            pred = net(x_now, field)
            loss = reconstruction_loss(pred, x_future, config.gradient_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            error += float(F.l1_loss(pred.detach(), x_future)) * len(batch)
            copy += float(F.l1_loss(x_now, x_future)) * len(batch)
        scheduler.step()
        ratio = error / copy
    net.eval()
    return ratio


def main() -> None:
    """Pretrain, report the reconstruction, fine-tune MIACNet, print and write its UF1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("dev"))
    parser.add_argument("--seed", type=int, default=0, help="the fine-tuning seed")
    parser.add_argument("--max-folds", type=int, default=8)
    parser.add_argument("--samples", type=int, default=5,
                        help="frames per macro clip, frame 0 included")
    parser.add_argument("--out", type=Path, required=True, help="the predictions (Parquet)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = load_params(args.root / "params.yaml")
    flow_table = args.root / "data/processed/micro/flow.parquet"
    job = make_job(params, "miacnet", labelled_subjects(flow_table), seeds=[args.seed])
    model = create_model(job.params.name, **job.params.hparams)
    assert isinstance(model, MIACNet)
    started = time.perf_counter()
    now, future, flow, subjects, clip_of = pretext_pairs(args.root, args.samples,
                                                          model.input_size, params.flow.solver())
    train = ~held_out_subjects(subjects, params.pretrain.held_out, params.pretrain.seed)[clip_of]
    config = params.pretrain.config()
    mean = flow[train].mean(dim=(0, 2, 3), keepdim=True)
    std = flow[train].std(dim=(0, 2, 3), keepdim=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = FlowMA2MI(model.widths, config.code_dim)
        ratio = train_pretext(net, now[train], future[train], flow[train], (mean, std), config)
    with torch.no_grad():
        held = torch.from_numpy(np.flatnonzero(~train))
        held_ratio = float((net(now[held], (flow[held] - mean) / std) - future[held]).abs().mean()
                           / (now[held] - future[held]).abs().mean())
    print(f"{len(now)} pairs ({int(train.sum())} trained on): error / copy {ratio:.3f} (last "
          f"epoch), {held_ratio:.3f} held out; {time.perf_counter() - started:.0f} s", flush=True)

    partial = {key: value.detach().clone() for key, value in net.state_dict().items()
               if key.startswith(("position.", "flow.", "gate."))}
    init_state = complete_state(model, partial, seed=params.pretrain.seed)
    data = load_features(flow_table, args.root / "data/processed/micro/flow",
                         keys=model.input_keys)
    trainer = get_trainer(job.params.trainer)
    results = [trainer(job.params.name, job.params.hparams, job.config, data, fold,
                       init_state=init_state, macro=None, options=job.options, progress=False)
               for fold in job.folds[:args.max_folds]]
    frame = predictions_frame(job, data, results, seed=args.seed)
    frame.to_parquet(args.out)
    scores = summarise(frame, n_resamples=10)[job.entry]["all"]
    print(f"miacnet from the flow pretext, seed {args.seed}, {len(results)} folds: UF1 "
          f"{scores['uf1']:.3f} UAR {scores['uar']:.3f}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
