"""Does LightmanNet's micro-macro alignment carry signal? Measured on held-out subjects.

Usage (on the development corpus, ``mer dev --out dev --seed 1`` then its stages to
``validate_flow``; never on the reported corpus)::

    .venv/bin/python benchmarks/lightman_alignment.py --root dev [--entry lightman] \
        [--loss mse|cosine] [--target clip|class-mean] [--maps raw|centred] [--synth-aus] \
        [--max-folds 4] [--episodes 20] [--seed 0] [--threads 1] [--loso-out FILE]

Measurements of the auxiliary task (``mer.training.alignment``) on motion maps
(``motion_maps``: onset -> apex ``u, v`` at ``grid`` px, each clip at unit RMS magnitude), with
the loss ``--loss``: ``mse``, the trainer's (mean squared difference: 1 for two uncorrelated maps,
0.5 for an all-zero warped map, 0 for a match), or ``cosine``, a prototype (1 - cosine similarity
of the two maps: 1 for uncorrelated maps and for an all-zero map, 0 for a match), which a warp
cannot lower by erasing the macro map. ``--target class-mean`` gives every macro partner its
emotion's mean map (over the labelled macro clips, at unit RMS) instead of its own;
``--target any-emotion`` (a control) draws partners of any emotion, so a gain that survives it
comes from the extra loss, not from the pairing;
``--maps centred`` takes each clip's mean flow (its head translation) out before the maps are made.

1. **Is the target informative?** Before any training: for every micro clip and every macro clip,
   the loss of the unwarped (identity) macro map against the micro map; its mean over macro clips
   of the micro clip's own emotion against the mean over the other emotions.
   With ``--synth-aus`` (a corpus made by ``mer synth``, such as the development corpus): the
   same by action-unit overlap (Jaccard of the AU numbers, sides ignored), each clip's AUs taken
   from the generator's plan for ``synth.seed`` (the synthetic CK+ layout writes no FACS files),
   beside the cosine similarity of two macro maps and of two micro maps (of other subjects) with
   the same AU set.
2. **Does the learned warp generalise, and to what?** For the first ``--max-folds`` LOSO folds:
   the entry's backbone pretrained as its entry says, then meta-auxiliary training on the fold's
   training subjects (the episode loop of ``meta_fit``, without its final refinement); on the
   held-out subject's clips, each paired with every macro clip, the loss of the warped map (the
   aligner, from the meta weights' embeddings) against the identity's, for same-emotion and
   other-emotion partners, and the warped maps' mean squared magnitude (1 unwarped). A warp that
   aligns facial actions lowers the loss more for same-emotion partners than for other ones; one
   that only shrinks the macro map lowers both alike.
   Level two's premise, on the same folds: over ``--episodes`` fresh episodes of the fold's
   training subjects, the query's cross-entropy at the meta weights, after level one's
   adaptation on the support (other subjects), and after the same step on the query itself (an
   upper bound on what one inner step can do), all without augmentation. If adapting on other
   subjects does not lower the query's loss, the bi-level objective is the joint one. Last, the
   held-out subject's cross-entropy at the meta weights and after the trainer's refinement on
   the training clips: reported, never used to choose anything.
3. With ``--loso-out``: every fold of the entry trained as ``mer train`` does (the trainer's
   refinement and prediction) with these options; the pooled predictions are written with the
   model named ``<entry>_<loss>[_<target>][_centred]``, for ``mer compare A B --predictions``.

The options other than the defaults replace parts of ``mer.training.meta_auxiliary`` for the run
(:func:`alignment_task`): prototypes measured here before any change to the pipeline. Results:
docs/lightman.md, "The alignment on its own terms".
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from flows.train import pretrain_macro
from mer.config import Params, load_params
from mer.models import create_model
from mer.models.base import centre_fields
from mer.stages.train import TrainJob, labelled_subjects, load_features, make_job, predictions_frame
from mer.synth.generate import SynthConfig, plan_corpus
from mer.training import FeatureSet, meta_auxiliary
from mer.training.alignment import MotionAligner, motion_maps
from mer.training.config import resolve_device
from mer.training.episodes import sample_episode
from mer.training.fit import evaluate, seeded_start
from mer.training.loso import split_fold
from mer.training.meta_auxiliary import EpisodeLearner

#: Per-pair loss of two map batches ``(B, 2, g, g)`` -> ``(B,)``.
Criterion = Callable[[Tensor, Tensor], Tensor]


def mse(a: Tensor, b: Tensor) -> Tensor:
    """The trainer's alignment loss: mean squared difference per pair."""
    return (a - b).pow(2).mean(dim=(1, 2, 3))


def cosine(a: Tensor, b: Tensor) -> Tensor:
    """1 - cosine similarity per pair (1 when either map is all zeros)."""
    return 1.0 - F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1, eps=1e-6)


CRITERIA: dict[str, Criterion] = {"mse": mse, "cosine": cosine}


def centred_motion_maps(flow: Tensor, grid: int) -> Tensor:
    """:func:`motion_maps` of the flow less its mean over the image (the clip's head
    translation): ``(B, 3, H, W)`` -> ``(B, 2, grid, grid)``."""
    return motion_maps(torch.cat([centre_fields(flow[:, :2]), flow[:, 2:]], dim=1), grid)


MAPS: dict[str, Callable[[Tensor, int], Tensor]] = {"raw": motion_maps,
                                                    "centred": centred_motion_maps}


class CosineAligner(MotionAligner):
    """:class:`MotionAligner` with the loss :func:`cosine` instead of the squared difference."""

    def forward(self, z_micro: Tensor, z_macro: Tensor, micro_maps: Tensor,
                macro_maps: Tensor) -> Tensor:
        """Per-pair ``1 - cos(warped macro map, micro map)`` ``(B,)``."""
        return cosine(self.warp(z_micro, z_macro, macro_maps), micro_maps)


def class_mean_maps(maps: Tensor, labels: np.ndarray) -> Tensor:
    """Each clip's map replaced by the mean map of its class, at unit RMS magnitude (as
    :func:`motion_maps`): ``(M, 2, g, g)``, ``(M,)`` -> ``(M, 2, g, g)``."""
    out = torch.empty_like(maps)
    for label in np.unique(labels):
        rows = torch.from_numpy(labels == label).to(maps.device)
        mean = maps[rows].mean(dim=0)
        out[rows] = mean / mean.pow(2).sum(dim=0).mean().sqrt().clamp_min(1e-9)
    return out


class ClassMeanLearner(EpisodeLearner):
    """:class:`EpisodeLearner` whose macro partners carry their emotion's mean motion map (over
    every labelled macro clip) instead of their own; embeddings stay the partner clip's."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.macro is not None:
            inputs, maps, labels = self.macro
            self.macro = (inputs, class_mean_maps(maps, labels), labels)


def any_emotion_partners(labels: np.ndarray, macro_labels: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """The control of ``draw_partners``: each micro clip's partner drawn uniformly from every
    macro clip, whatever its emotion: ``(B,)``, ``(M,)`` -> ``(B,)`` macro positions."""
    return rng.choice(len(macro_labels), len(labels)).astype(np.int64)


@contextmanager
def alignment_task(loss: str, target: str, maps: str) -> Iterator[None]:
    """Inside the block the ``meta_auxiliary`` trainer aligns with loss ``loss`` (``mse``,
    ``cosine``) to the macro maps ``target`` (``clip``: the same-emotion partner's own,
    ``class-mean``: its emotion's mean, ``any-emotion``: a partner of any emotion's own), both maps
    made by ``MAPS[maps]`` (``meta_auxiliary.motion_maps``, which this script also uses)."""
    names = ("MotionAligner", "EpisodeLearner", "motion_maps", "draw_partners")
    saved = {name: getattr(meta_auxiliary, name) for name in names}
    if loss == "cosine":
        meta_auxiliary.MotionAligner = CosineAligner
    if target == "class-mean":
        meta_auxiliary.EpisodeLearner = ClassMeanLearner
    if target == "any-emotion":
        meta_auxiliary.draw_partners = any_emotion_partners
    meta_auxiliary.motion_maps = MAPS[maps]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(meta_auxiliary, name, value)


def pair_losses(micro_maps: Tensor, macro_maps: Tensor, criterion: Criterion) -> Tensor:
    """Identity-warp losses of every (micro, macro) pair: ``(N, 2, g, g)``, ``(M, 2, g, g)`` ->
    ``(N, M)``."""
    return torch.stack([criterion(m.expand_as(macro_maps), macro_maps) for m in micro_maps])


def same_other(losses: Tensor, labels: np.ndarray, macro_labels: np.ndarray
               ) -> tuple[float, float]:
    """Mean of an ``(N, M)`` table over same-emotion pairs and over other-emotion pairs."""
    same = torch.from_numpy(labels[:, None] == macro_labels[None])
    return float(losses[same].mean()), float(losses[~same].mean())


@torch.no_grad()
def warped_losses(learner: EpisodeLearner, test: dict[str, Tensor], micro_maps: Tensor,
                  criterion: Criterion) -> tuple[Tensor, float]:
    """Losses ``(N, M)`` of every held-out clip against every macro clip warped by the learner's
    aligner, and the warped maps' mean squared magnitude."""
    model, aligner = learner.model, learner.net.aligner
    model.eval()
    macro_inputs, macro_maps, _ = learner.macro
    z_macro, z_micro = model.features(macro_inputs), model.features(test)
    rows, energy = [], []
    for i in range(len(micro_maps)):
        n = len(macro_maps)
        warped = aligner.warp(z_micro[i:i + 1].expand(n, -1), z_macro, macro_maps)
        rows.append(criterion(warped, micro_maps[i:i + 1].expand_as(warped)))
        energy.append(float(warped.pow(2).sum(dim=1).mean()))
    return torch.stack(rows), float(np.mean(energy))


def synthetic_action_units(seed: int, overrides: dict) -> dict[str, frozenset[str]]:
    """Clip id (``<dataset>/<subject>/<clip>`` as the flow tables spell it) -> its AU numbers
    (sides dropped), from the plan ``mer synth`` follows for ``seed`` and the config overrides."""
    _, plans = plan_corpus(SynthConfig(**overrides), seed)
    units = {}
    for plan in plans:
        key = (f"ckplus/{plan.subject}/{plan.subject}_{plan.clip}" if plan.dataset == "ck"
               else f"{plan.dataset}/{plan.subject}/{plan.clip}")
        units[key] = frozenset(au.lstrip("LR") for au in plan.au_code.split("+") if au)
    return units


def print_by_action_units(data: FeatureSet, macro: FeatureSet, grid: int,
                          units: dict[str, frozenset[str]]) -> None:
    """Print measurement 1 by AU overlap (cosine similarity of the unwarped maps)."""
    def unit(maps: Tensor) -> Tensor:
        flat = maps.flatten(1)
        return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-9)

    def jaccard(a: list[frozenset[str]], b: list[frozenset[str]]) -> np.ndarray:
        return np.array([[len(x & y) / max(1, len(x | y)) for y in b] for x in a])

    maps = meta_auxiliary.motion_maps
    micro, mac = unit(maps(data.inputs["flow"], grid)), unit(maps(macro.inputs["flow"], grid))
    micro_units = [units.get(c, frozenset()) for c in data.clips]
    macro_units = [units.get(c, frozenset()) for c in macro.clips]
    cos, overlap = (micro @ mac.T).numpy(), jaccard(micro_units, macro_units)
    coded = np.array([bool(u) for u in micro_units])[:, None]
    for name, mask in (("no AU shared", (overlap == 0) & coded), ("an AU shared", overlap > 0),
                       ("half the AUs shared", overlap >= 0.5)):
        print(f"   micro-macro, {name}: {mask.sum()} pairs, cosine {cos[mask].mean():+.4f}")
    same_macro = (jaccard(macro_units, macro_units) == 1) & ~np.eye(len(macro), dtype=bool)
    subjects = np.asarray(data.subjects)
    same_micro = ((jaccard(micro_units, micro_units) == 1) & coded & coded.T
                  & (subjects[:, None] != subjects[None]))
    print(f"   same AU set: macro-macro cosine {(mac @ mac.T).numpy()[same_macro].mean():+.4f}, "
          f"micro-micro (other subjects) {(micro @ micro.T).numpy()[same_micro].mean():+.4f}",
          flush=True)


def adaptation_gains(learner: EpisodeLearner, episodes: int) -> tuple[float, float, float]:
    """Mean query cross-entropy over ``episodes`` fresh episodes: at the meta weights, adapted on
    the support (level one), adapted on the query itself."""
    learner.net.train()
    options, losses = learner.options, []
    for _ in range(episodes):
        support, query = sample_episode(learner.labels, learner.subjects, learner.train,
                                        options.n_support, options.n_query, learner.rng)
        support, query = learner.local(support), learner.local(query)
        meta = dict(learner.net.named_parameters())
        row = [float(learner.losses(meta, query, augmented=False)[0].detach())]
        for adapt_on in (support, query):
            fast, _ = learner.adapt(adapt_on, create_graph=False, augmented=False)
            row.append(float(learner.losses(fast, query, augmented=False)[0].detach()))
        losses.append(row)
    return tuple(np.mean(losses, axis=0))


def diagnose(job: TrainJob, data: FeatureSet, macro: FeatureSet, init_state: dict | None,
             criterion: Criterion, max_folds: int, episodes: int) -> None:
    """Print measurement 2 for the first ``max_folds`` folds and their means."""
    labels, macro_labels = data.labels.numpy(), macro.labels.numpy()
    device = resolve_device(job.config.device)
    rows = []
    for fold in job.folds[:max_folds]:
        split = split_fold(data, fold)
        model = create_model(job.params.name, **job.params.hparams)
        inputs = model.resize_inputs(data.subset(split.train).inputs)
        with seeded_start(model, inputs, job.config.seed, device, init_state):
            learner = meta_auxiliary.EpisodeLearner(model, data, split.train, inputs,
                                                    job.config, job.options, macro, device)
            learner.run(None, progress=False, desc="alignment")
            test = data.subset(split.test)
            test_maps = meta_auxiliary.motion_maps(test.inputs["flow"], job.options.grid).to(device)
            identity = pair_losses(test_maps, learner.macro[1], criterion).cpu()
            warped, energy = warped_losses(learner, {k: v.to(device) for k, v in
                                                     test.inputs.items()}, test_maps, criterion)
            test_inputs = model.resize_inputs(test.inputs)
            held_out = [evaluate(model, test_inputs, test.labels, device)[0]]
            state = copy.deepcopy(learner.net.state_dict())  # BatchNorm statistics
            query_losses = adaptation_gains(learner, episodes)
            learner.net.load_state_dict(state)
            learner.refine()
            held_out.append(evaluate(model, test_inputs, test.labels, device)[0])
        id_same, id_other = same_other(identity, labels[split.test], macro_labels)
        w_same, w_other = same_other(warped.cpu(), labels[split.test], macro_labels)
        rows.append((w_same / id_same, w_other / id_other, id_other - id_same,
                     w_other - w_same, energy, *query_losses, *held_out))
        print(f"fold {fold.index:2d} ({len(split.test)} clips): warped / identity: same emotion "
              f"{rows[-1][0]:.3f}, other {rows[-1][1]:.3f}; other - same: identity "
              f"{rows[-1][2]:+.4f}, warped {rows[-1][3]:+.4f}; warped energy {energy:.3f}; "
              "query CE at the meta weights / adapted on the support / on the query "
              + " / ".join(f"{x:.4f}" for x in query_losses)
              + f"; held-out CE meta / refined {held_out[0]:.4f} / {held_out[1]:.4f}", flush=True)
    mean = np.mean(rows, axis=0)
    print(f"2. mean over {len(rows)} folds: warped / identity: same emotion {mean[0]:.3f}, "
          f"other {mean[1]:.3f}; other - same: identity {mean[2]:+.4f}, warped {mean[3]:+.4f}; "
          f"warped energy {mean[4]:.3f}; query CE meta / support-adapted / query-adapted "
          f"{mean[5]:.4f} / {mean[6]:.4f} / {mean[7]:.4f}; held-out CE meta / refined "
          f"{mean[8]:.4f} / {mean[9]:.4f}", flush=True)


def main() -> None:
    """Parse the arguments, print the measurements, run the LOSO if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project (params.yaml, data)")
    parser.add_argument("--entry", default="lightman", help="a meta_auxiliary params.yaml entry")
    parser.add_argument("--loss", choices=sorted(CRITERIA), default="mse")
    parser.add_argument("--target", choices=("clip", "class-mean", "any-emotion"), default="clip",
                        help="macro maps aligned to: the same-emotion partner's own, its "
                             "emotion's mean, or (control) a partner of any emotion's own")
    parser.add_argument("--maps", choices=sorted(MAPS), default="raw",
                        help="motion maps as the trainer makes them, or less the clip's mean flow")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--max-folds", type=int, default=4, help="folds of measurement 2 (0: none)")
    parser.add_argument("--loso-out", type=Path, help="run every fold, write the predictions")
    parser.add_argument("--episodes", type=int, default=20,
                        help="episodes of the adaptation measurement, per fold")
    parser.add_argument("--synth-aus", action="store_true",
                        help="measurement 1 by action units too (a corpus made by mer synth)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params(args.root / "params.yaml")
    flow = args.root / "data/processed/micro/flow.parquet"
    job = make_job(params, args.entry, labelled_subjects(flow), seeds=[args.seed])
    if job.params.trainer != "meta_auxiliary" or not job.options.use_aux:
        raise SystemExit(f"{args.entry}: not a meta_auxiliary entry with the auxiliary branch")
    data = load_features(flow, args.root / "data/processed/micro/flow")
    macro = load_features(args.root / "data/processed/macro/flow.parquet",
                          args.root / "data/processed/macro/flow")
    with alignment_task(args.loss, args.target, args.maps):
        measure(args, params, job, data, macro)


def measure(args: argparse.Namespace, params: Params, job: TrainJob, data: FeatureSet,
            macro: FeatureSet) -> None:
    """Print measurements 1 and 2, run and write the LOSO of 3 if asked."""
    criterion = CRITERIA[args.loss]
    grid = job.options.grid
    macro_maps = meta_auxiliary.motion_maps(macro.inputs["flow"], grid)
    if args.target == "class-mean":
        macro_maps = class_mean_maps(macro_maps, macro.labels.numpy())
    micro_maps = meta_auxiliary.motion_maps(data.inputs["flow"], grid)
    same, other = same_other(pair_losses(micro_maps, macro_maps, criterion),
                             data.labels.numpy(), macro.labels.numpy())
    print(f"{len(data)} micro clips, {len(macro)} macro clips, grid {grid}, loss {args.loss}, "
          f"target {args.target}, maps {args.maps}")
    print(f"1. identity loss, all micro clips: same emotion {same:.4f}, other emotions "
          f"{other:.4f} (other - same {other - same:+.4f})", flush=True)
    if args.synth_aus:
        print_by_action_units(data, macro, grid,
                              synthetic_action_units(params.synth.seed, params.synth.config))
    init_state = (pretrain_macro.fn(job, macro)  # the train flow's, outside Prefect
                  if job.params.pretrain.kind == "supervised_macro" else None)
    if args.max_folds:
        diagnose(job, data, macro, init_state, criterion, args.max_folds, args.episodes)
    if args.loso_out is not None:
        trainer = meta_auxiliary.meta_auxiliary
        results = [trainer(job.params.name, job.params.hparams, job.config, data, fold,
                           init_state=init_state, macro=macro, options=job.options,
                           progress=False) for fold in job.folds]
        frame = predictions_frame(job, data, results, seed=args.seed)
        frame["model"] = "_".join([args.entry, args.loss] + (
            [args.target.replace("-", "_")] if args.target != "clip" else []) + (
            ["centred"] if args.maps == "centred" else []))
        frame.to_parquet(args.loso_out)
        print(f"3. {len(results)} folds written to {args.loso_out}")


if __name__ == "__main__":
    main()
