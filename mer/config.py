"""Typed, validated configuration: params.yaml, one section per stage.

Every model is frozen and rejects unknown keys, so a typo in params.yaml fails at once with the
key's name. Only `mer/stages` loads files; the library receives these objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

CorpusFormat = Literal["casme2", "samm", "smic", "casme3", "mmew", "ckplus"]


class Section(BaseModel):
    """Base of every params section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CorpusConfig(Section):
    """One corpus in its native layout: where its frames and its coding sheet are."""

    format: CorpusFormat
    root: Path
    annotations: Path | None = None


class DataConfig(Section):
    """The micro-expression corpora (`data.corpora`), the optional MEGC2019 composite file, and
    the macro-expression corpora used for pretraining (`data.macro_corpora`)."""

    corpora: tuple[CorpusConfig, ...] = Field(min_length=1)
    composite_gt: Path | None = None
    macro_corpora: tuple[CorpusConfig, ...] = ()
    incoming: Path | None = None  # merged batches of new clips (see mer.data.incoming)
    on_defect: Literal["drop", "fail", "estimate_apex"] = "estimate_apex"


class SynthParams(Section):
    """The embedded default corpus: its seed and overrides of ``mer.synth.SynthConfig`` fields
    (subjects and clips per corpus, frame sizes, amplitudes...; empty = the default corpus)."""

    seed: int = 0
    config: dict[str, Any] = Field(default_factory=dict)


class QualityParams(Section):
    """Data-quality gates."""

    min_labelled_clips_per_subject: int = Field(default=1, ge=0)


class FacesParams(Section):
    """Face crop and alignment: crop side (px), margin around the template, no-face policy."""

    size: int = Field(default=128, ge=32)
    margin: float = Field(default=0.2, ge=0, le=2)
    on_no_face: Literal["exclude", "fail"] = "exclude"


class FlowParams(Section):
    """TV-L1 optical flow, named and defaulted as OpenCV's DualTVL1 (``lambda`` included)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    tau: float = 0.25
    lambda_: float = Field(default=0.15, alias="lambda")
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5
    batch_size: int = Field(default=32, ge=1)  # flow pairs solved together
    apex_to_offset: bool = False  # also compute apex -> offset flow
    max_magnitude: float = Field(default=20.0, gt=0)  # gate: larger mean flow (px) is an error
    apex_spotter: Literal["max_difference", "middle", "rigid_residual", "rigid_fit"] = "rigid_fit"

    def tvl1(self) -> dict[str, float | int]:
        """The solver's keyword arguments (``lambda_`` spelled as the Python name)."""
        return self.model_dump(exclude={"batch_size", "apex_to_offset", "max_magnitude", "apex_spotter"})


class PretrainParams(Section):
    """How a model's weights are initialised before LOSO finetuning.

    ``none``: from scratch; ``supervised_macro``: fit on the labelled macro-expression clips
    (``data.macro_corpora``) first, then finetune on each fold's training subjects;
    ``checkpoint``: start from the state dict a pretraining stage wrote (``mer train
    --pretrained PATH``), e.g. MA2MI's encoder.
    """

    kind: Literal["none", "supervised_macro", "checkpoint"] = "none"
    epochs: int = Field(default=10, ge=1)
    lr: float = Field(default=2e-3, gt=0)


class ModelParams(Section):
    """One registered model: its hyper-parameters, its training config and its pretraining.

    ``train`` holds :class:`mer.training.TrainConfig` fields (checked when the stage builds it).
    """

    name: str  # registry name (several entries may share one model with other settings)
    hparams: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    pretrain: PretrainParams = PretrainParams()
    trainer: str = "supervised"  # see mer.training.trainers
    trainer_options: dict[str, Any] = Field(default_factory=dict)


class TrainParams(Section):
    """Leave-one-subject-out training shared by every model."""

    n_val_subjects: int = Field(default=1, ge=0)  # drawn from each fold's training subjects
    seed: int = 0
    threads: int = Field(default=2, ge=1)  # torch CPU threads
    workers: int = Field(default=1, ge=1)  # folds trained at once by the local task runner
    dask_address: str | None = None  # e.g. tcp://scheduler:8786: folds go to a Dask cluster
    label_noise: float = Field(default=0.0, ge=0, le=1)  # symmetric noise on training labels
    shots_per_class: int | None = Field(default=None, ge=1)  # k clips per class per subject


class RobustnessCondition(Section):
    """A robustness condition of `make robustness`: what it changes in the training folds."""

    label_noise: float = Field(default=0.0, ge=0, le=1)  # symmetric noise on training labels
    shots_per_class: int | None = Field(default=None, ge=1)  # k clips per class per subject


class EvaluateParams(Section):
    """Scoring of the pooled LOSO predictions."""

    n_resamples: int = Field(default=1000, ge=10)  # bootstrap over subjects
    seed: int = 0


class MA2MIParams(Section):
    """MA2MI pretraining (stage `pretrain`, docs/ma2mi.md) of a model's encoders on macro clips."""

    model: Literal["miacnet"] = "miacnet"  # the registered model whose encoders are pretrained
    hparams: dict[str, Any] = Field(default_factory=dict)  # = the finetuned entry's hparams
    epochs: int = Field(default=12, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    samples_per_clip: int = Field(default=8, ge=1)  # triplets (t-k, t, t+k) per clip and epoch
    max_step: int = Field(default=3, ge=1)  # largest k, frames
    gradient_weight: float = Field(default=0.5, ge=0)  # image-gradient L1 term
    hflip: bool = True
    seed: int = 0
    on_overlap: Literal["exclude", "accept"] = "exclude"  # macro subjects also in micro corpus


class RetrainParams(Section):
    """Scheduled retraining on new annotated clips (the `mer-retrain` flow)."""

    incoming: Path = Path("data/incoming")  # where new batches are dropped
    quarantine: Path = Path("data/quarantine")  # rejected batches, with the reason
    records: Path = Path("reports/retrain")  # one decision record per retraining
    model: str = "micro_attention"  # the model entry whose metrics decide promotion
    metric: Literal["uf1", "uar", "accuracy"] = "uf1"
    tolerance: float = Field(default=0.02, ge=0)  # promote unless the metric drops more than this
    cron: str = "0 3 * * *"  # when the deployment looks for new batches


class Params(Section):
    """The whole params.yaml, one section per stage."""

    synth: SynthParams = SynthParams()
    data: DataConfig
    quality: QualityParams = QualityParams()
    faces: FacesParams = FacesParams()
    flow: FlowParams = FlowParams()
    pretrain: MA2MIParams = MA2MIParams()
    train: TrainParams = TrainParams()
    models: dict[str, ModelParams] = Field(default_factory=dict)  # evaluated by `make run`
    ablations: dict[str, ModelParams] = Field(default_factory=dict)  # `make ablations` adds these
    robustness: dict[str, RobustnessCondition] = Field(default_factory=dict)  # `make robustness`
    evaluate: EvaluateParams = EvaluateParams()
    retrain: RetrainParams = RetrainParams()


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or breaks a rule; the message names the file and key."""


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml (``yaml.safe_load``); raise ConfigError naming bad keys."""
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read ({error})") from error
    try:
        return Params.model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from error
