"""Stage `predict`: the emotion of one clip folder or video file, from a trained model entry.

``mer predict CLIP_DIR_OR_VIDEO [--onset N --apex M] [--model ENTRY] [--fold K]`` reads the
frames in numeric order (a video's frames are numbered 1.., MP4, AVI or MOV decoded by
:mod:`mer.data.video`), aligns the face (:func:`mer.faces.align_clip`, ``faces`` params), computes the
onset -> apex TV-L1 flow and strain (:func:`mer.flow.features.clip_flow`, ``flow`` params), and
runs the model entry's fold checkpoints (``models/default/<entry>/fold_XX.pt``, config.yaml). By
default the probabilities of all fold models are averaged; ``--fold K`` uses one. ``--onset``
and ``--apex`` are the corpus's frame numbers (``img46.jpg`` is 46); the onset defaults to the
first frame of a folder and the apex, when not given, is spotted (``flow.apex_spotter``) and
reported as estimated. A video is a recording, longer than one expression: without ``--onset``
its micro-expression intervals are spotted first (:mod:`mer.spotting.recording`) and the one
with the highest score is predicted.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from mer.config import Params, load_params
from mer.data.errors import DataError
from mer.data.frames import FRAME_SUFFIXES, frame_number, list_frames, read_frame
from mer.data.schema import LABELS
from mer.data.video import is_video, read_video

logger = logging.getLogger(__name__)

_FOLD = re.compile(r"fold_(\d+)\.pt$")


@dataclass(frozen=True)
class Prediction:
    """The outcome for one clip: class probabilities (LABELS order) and how they were made."""

    label: str
    probabilities: dict[str, float]
    onset_frame: int
    apex_frame: int
    apex_estimated: bool
    model: str
    folds: tuple[int, ...]


def load_ensemble(model_dir: Path,
                  fold: int | None) -> tuple[str, list[tuple[int, torch.nn.Module]]]:
    """Build the entry's model from its config.yaml and load its fold checkpoints (eval mode).

    Raises:
        DataError: no config.yaml or no ``fold_XX.pt`` (train the entry first), or no fold K.
    """
    from mer.models import create_model  # noqa: PLC0415 - registers the models

    config_path = model_dir / "config.yaml"
    if not config_path.is_file():
        raise DataError(model_dir, "no config.yaml: not a trained model entry (run `mer train`)")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    name, hparams = config["params"]["name"], config["params"].get("hparams") or {}
    paths = {int(m.group(1)): p for p in model_dir.glob("fold_*.pt")
             if (m := _FOLD.search(p.name))}
    if fold is not None:
        if fold not in paths:
            raise DataError(model_dir, f"no fold_{fold:02d}.pt (folds: {sorted(paths)})")
        paths = {fold: paths[fold]}
    if not paths:
        raise DataError(model_dir, "no fold_XX.pt checkpoints (run `mer train`)")
    models = []
    for index in sorted(paths):
        model = create_model(name, **hparams)
        model.load_state_dict(torch.load(paths[index], map_location="cpu", weights_only=True))
        models.append((index, model.eval()))
    return name, models


def clip_inputs(frames: list[np.ndarray], onset: int, apex: int | None, params: Params,
                where: str) -> tuple[dict[str, torch.Tensor], int, int, bool]:
    """Align and compute the flow as the pipeline does; return the model inputs (the layout of
    :func:`mer.stages.train.load_features`), onset and apex indices and whether the apex was
    spotted."""
    from mer.faces import align_clip  # noqa: PLC0415 - loads dlib's models
    from mer.flow.features import ClipInput, clip_flows, to_grey  # noqa: PLC0415

    aligned = align_clip(frames, size=params.faces.size, margin=params.faces.margin,
                         reference=onset, clip=where)
    item = ClipInput(aligned.frames, onset, apex, where, params.flow.apex_spotter)
    flow = clip_flows([item], params.flow.solver())[0]
    grey = to_grey(aligned.frames, where).astype(np.float32) / 255.0
    inputs = {"flow": torch.from_numpy(np.stack([flow.u, flow.v, flow.strain])[None]),
              "apex": torch.from_numpy(grey[flow.apex_index][None, None].copy()),
              "onset": torch.from_numpy(grey[flow.onset_index][None, None].copy())}
    if params.flow.sequence_frames:
        inputs |= _sequence_inputs(aligned.frames, flow.onset_index, flow.apex_index, params)
    return inputs, flow.onset_index, flow.apex_index, flow.apex_estimated


def _sequence_inputs(frames: np.ndarray, onset: int, apex: int,
                     params: Params) -> dict[str, torch.Tensor]:
    """``frames`` (1, 3, K, S, S) and ``flows`` (1, 2, K - 1, S, S) as the flow stage samples
    them, from the onset to the clip's last frame (a clip given here has no offset)."""
    from mer.flow.sequence import clip_positions, sequence_crops, sequence_flows  # noqa: PLC0415

    positions = clip_positions(onset, apex, len(frames) - 1, params.flow.sequence_frames,
                               params.flow.sequence_sampling)
    crops = sequence_crops(np.asarray(frames), positions, params.flow.sequence_size)
    (flows,) = sequence_flows([np.asarray(frames)], [positions], params.flow.solver(),
                              params.flow.batch_size, size=params.flow.sequence_size,
                              reference=params.flow.sequence_reference)
    rgb = crops.transpose(3, 0, 1, 2).astype(np.float32) / 255.0  # (3, K, S, S)
    return {"frames": torch.from_numpy(rgb[None].copy()),
            "flows": torch.from_numpy(flows.transpose(1, 0, 2, 3)[None].copy())}


def predict_clip(clip_dir: Path, model_dir: Path, params: Params, *, onset_frame: int | None = None,
                 apex_frame: int | None = None, fold: int | None = None) -> Prediction:
    """Predict the emotion of the clip in ``clip_dir`` with the checkpoints in ``model_dir``.

    Raises:
        DataError: no frames, an onset/apex number not among the frames, no face (NoFaceError),
            a model entry not trained.
    """
    if is_video(clip_dir):
        video = read_video(clip_dir)
        frames, fps = list(video.frames), video.fps
        numbers = list(range(1, len(frames) + 1))
    else:
        paths = list_frames(clip_dir)
        if not paths:
            suffixes = "/".join(sorted(s.lstrip(".") for s in FRAME_SUFFIXES))
            raise DataError(clip_dir, f"no frames: the folder holds no {suffixes} files")
        numbers = [frame_number(p) for p in paths]
        frames = []
    onset = _index(numbers, onset_frame, "onset", clip_dir) if onset_frame is not None else 0
    apex = _index(numbers, apex_frame, "apex", clip_dir) if apex_frame is not None else None
    if len(numbers) < 2:
        raise DataError(clip_dir, "one frame only: a clip needs an onset and a later apex frame")
    if is_video(clip_dir) and onset_frame is None:
        frames, numbers = _spotted_interval(frames, numbers, fps, clip_dir, params)
        apex = None
    name, models = load_ensemble(model_dir, fold)
    frames = frames or [read_frame(p) for p in paths]
    inputs, onset, apex, estimated = clip_inputs(frames, onset, apex, params, str(clip_dir))
    with torch.no_grad():
        probs = torch.stack([torch.softmax(m(inputs), dim=1)[0] for _, m in models]).mean(0)
    probs = probs.double() / probs.double().sum()
    return Prediction(LABELS[int(probs.argmax())],
                      {label: float(p) for label, p in zip(LABELS, probs, strict=True)},
                      numbers[onset], numbers[apex], estimated,
                      model_dir.name if name == model_dir.name else f"{model_dir.name} ({name})",
                      tuple(i for i, _ in models))


def _spotted_interval(frames: list[np.ndarray], numbers: list[int], fps: float, where: Path,
                      params: Params) -> tuple[list[np.ndarray], list[int]]:
    """The frames and numbers of the recording's highest-scoring spotted interval.

    Raises:
        DataError: too short to spot, or no interval found (pass ``--onset``).
    """
    from mer.spotting.intervals import SpotSettings  # noqa: PLC0415
    from mer.spotting.recording import spot_recording  # noqa: PLC0415

    intervals = spot_recording(np.stack(frames), fps, SpotSettings(margin=params.faces.margin),
                               size=params.faces.size, where=str(where))
    if not intervals:
        raise DataError(where, "no micro-expression spotted in the recording; pass --onset and --apex")
    best = max(intervals, key=lambda i: i.score)
    keep = slice(best.onset, best.offset + 1)
    return frames[keep], numbers[keep]


def _index(numbers: list[int], number: int, what: str, where: Path) -> int:
    if number not in numbers:
        raise DataError(where, f"{what} frame {number} is not among the frames "
                               f"({numbers[0]}..{numbers[-1]})")
    return numbers.index(number)


def format_prediction(clip_dir: Path, p: Prediction) -> str:
    """The prediction as the lines `mer predict` prints."""
    folds = (f"mean of the probabilities of {len(p.folds)} fold models "
             f"(fold_{p.folds[0]:02d}..fold_{p.folds[-1]:02d})" if len(p.folds) > 1
             else f"fold_{p.folds[0]:02d} alone")
    apex = f"{p.apex_frame} ({'estimated: spotted' if p.apex_estimated else 'given'})"
    lines = [f"clip: {clip_dir}", f"onset frame {p.onset_frame}, apex frame {apex}",
             f"model: {p.model}, {folds}", f"emotion: {p.label}"]
    lines += [f"  {label:<9} {prob:.4f}" for label, prob in p.probabilities.items()]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the clip folder, frame numbers, model entry and fold."""
    parser = argparse.ArgumentParser(prog="mer predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("clip_dir", type=Path,
                        help="folder of one clip's frames, or a video file (.mp4, .avi, .mov)")
    parser.add_argument("--onset", type=int, help="onset frame number (default: the first)")
    parser.add_argument("--apex", type=int, help="apex frame number (default: spotted)")
    parser.add_argument("--model", help="a params.yaml models entry (default: the first)")
    parser.add_argument("--fold", type=int, help="use fold K's model only (default: all folds)")
    parser.add_argument("--models-dir", type=Path, default=Path("models/default"),
                        help="folder of trained entries (<entry>/fold_XX.pt, config.yaml)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Predict one clip and print the emotion with its probabilities."""
    args = parse_args(argv)
    params = load_params(args.params)
    entry = args.model or next(iter(params.models), None)
    if entry is None:
        raise ValueError(f"{args.params}: no models entry; pass --model")
    torch.set_num_threads(params.runtime.threads)
    prediction = predict_clip(args.clip_dir, args.models_dir / entry, params,
                              onset_frame=args.onset, apex_frame=args.apex, fold=args.fold)
    print(format_prediction(args.clip_dir, prediction), end="")
    return 0
