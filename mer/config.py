"""Typed, validated configuration: params.yaml, one section per stage.

Every model is frozen and rejects unknown keys, so a typo in params.yaml fails at once with the
key's name. Only `mer/stages` loads files; the library receives these objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

CorpusFormat = Literal["casme2", "samm", "smic", "casme3", "mmew", "ckplus"]

#: Where each of a clip sequence's K - 1 flows starts (``flow.sequence_reference``): the first
#: sample (the onset), so flow j is onset -> sample j + 1; or the sample before (j -> j + 1).
FlowReference = Literal["onset", "previous"]

#: Where a clip sequence's K samples fall (``flow.sequence_sampling``): evenly from the onset to
#: the offset; or evenly from the onset to the apex (samples 0..K // 2, the apex last) and then
#: evenly after it to the offset, so sample K // 2 is the apex of every clip.
SequenceSampling = Literal["even", "apex"]


def _distinct(seeds: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return seeds


#: Training seeds: one run per seed in the same folds (at least one, no repeats).
Seeds = Annotated[tuple[int, ...], Field(min_length=1), AfterValidator(_distinct)]


class Section(BaseModel):
    """Base of every params section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: Formats without a coding sheet: the folder tree under the root is the annotation.
TREE_FORMATS: Final[frozenset[str]] = frozenset({"smic", "ckplus"})


class CorpusConfig(Section):
    """One corpus in its native layout: where its frames and its coding sheet are.

    dvc.yaml tracks ``root`` and ``annotations`` of every corpus of params.yaml (one
    ``corpus_micro``/``corpus_macro`` stage each), so there every corpus names both; a format
    without a sheet (SMIC, CK+) names its root as its annotations.
    """

    format: CorpusFormat
    root: Path
    annotations: Path | None = None

    @model_validator(mode="after")
    def _tree_is_the_annotation(self) -> CorpusConfig:
        if self.format in TREE_FORMATS and self.annotations not in (None, self.root):
            raise ValueError(f"{self.format} has no coding sheet: its annotations are its folder "
                             f"tree, so annotations must be its root {self.root} (or unset), "
                             f"not {self.annotations}")
        return self


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
    on_bad_frame: Literal["exclude", "fail"] = "exclude"


class TVL1Params(Section):
    """TV-L1 optical flow parameters; names and defaults are OpenCV's ``DualTVL1OpticalFlow``.

    The values mean what they mean in OpenCV on 8-bit intensities (0..255): frames in [0, 1] are
    multiplied by 255 before the solver runs, as OpenCV does with float input.

    Attributes:
        tau: time step of the primal-dual scheme (stable for tau <= 0.25).
        lambda_: weight of the L1 data term (``lambda`` in OpenCV and params.yaml).
        theta: coupling between the flow ``u`` and its auxiliary ``v``.
        nscales: number of pyramid levels; fewer are used when a level would be under 16 px.
        warps: number of warpings of frame 1 per level.
        epsilon: stopping threshold: a level's inner loop stops when the mean over pixels of
            ``|u_new - u_old|^2`` falls to ``epsilon^2`` or below.
        inner_iterations: iterations between two median filterings.
        outer_iterations: median filterings per warp (each followed by up to
            ``inner_iterations`` iterations).
        scale_step: ratio between the sizes of two pyramid levels.
        gamma: weight of the illumination term. Only 0 is supported (OpenCV's default).
        median_filtering: size of the median filter applied to the flow (1 or less: none; odd).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True,
                              allow_inf_nan=False)

    tau: float = Field(default=0.25, gt=0)
    lambda_: float = Field(default=0.15, gt=0, alias="lambda")
    theta: float = Field(default=0.3, gt=0)
    nscales: int = Field(default=5, ge=1)
    warps: int = Field(default=5, ge=1)
    epsilon: float = Field(default=0.01, ge=0)
    inner_iterations: int = Field(default=30, ge=1)
    outer_iterations: int = Field(default=10, ge=1)
    scale_step: float = Field(default=0.8, gt=0, lt=1)
    gamma: float = Field(default=0.0, ge=0, le=0)  # only 0: no illumination term is implemented
    median_filtering: int = 5

    @field_validator("median_filtering")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value > 1 and value % 2 == 0:
            raise ValueError(f"must be odd (or <= 1 for no median filter), got {value}")
        return value

    def solver(self) -> TVL1Params:
        """The solver's parameters alone (a :class:`FlowParams` has stage settings besides)."""
        return TVL1Params.model_validate({name: getattr(self, name)
                                          for name in TVL1Params.model_fields})

    def replace(self, **changes: Any) -> TVL1Params:
        """A validated copy with some fields changed (``lambda`` or ``lambda_``)."""
        if "lambda_" in changes:
            changes["lambda"] = changes.pop("lambda_")
        return type(self).model_validate({**self.model_dump(by_alias=True), **changes})


class FlowParams(TVL1Params):
    """The flow stage: the solver's parameters (``tau``, ``lambda``, ...) and the stage's own."""

    batch_size: int = Field(default=32, ge=1)  # flow pairs solved together
    apex_to_offset: bool = False  # also compute apex -> offset flow
    max_magnitude: float = Field(default=20.0, gt=0)  # gate: larger mean flow (px) is an error
    apex_spotter: Literal["max_difference", "middle", "rigid_residual", "rigid_fit"] = "rigid_fit"
    # clip sequences (attr_contrastive): K aligned crops from onset to offset and the K - 1 flows
    # to each later one from the onset or from the one before (FlowReference), sampled as
    # SequenceSampling says, solved on the aligned frames and stored at sequence_size px;
    # 0 frames = no sequence folder
    sequence_frames: int = Field(default=0, ge=0)
    sequence_size: int = Field(default=32, ge=16)
    sequence_reference: FlowReference = "onset"
    sequence_sampling: SequenceSampling = "even"

    @model_validator(mode="after")
    def _one_pair_at_least(self) -> FlowParams:
        if self.sequence_frames == 1:
            raise ValueError("flow.sequence_frames must be 0 (none) or >= 2 (one flow at least)")
        return self


class TrainConfig(Section):
    """How to fit a model: a fixed number of epochs of AdamW on a cross-entropy loss.

    Attributes:
        epochs: passes over the training clips (fixed; never chosen on the test subject).
        batch_size: clips per optimisation step (the epoch is split into near-equal batches).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        seed: seeds the weight initialisation, batch order and augmentation (a model entry's
            seeds come from ``train.seeds``).
        lr_schedule: ``"constant"``, or ``"cosine"`` annealing from ``lr`` to 0 over the epochs.
        hflip: flip half of the training clips left-right (the flow's ``u`` is negated).
        max_shift: random translation of training clips by up to this fraction of the image side
            (each axis, whole pixels at the model's input size, edges replicated); 0 = none.
        class_weighting: weight the loss by inverse class frequency of the training clips.
        device: ``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA if available, else CPU).
    """

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    seed: int = 0
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    hflip: bool = True
    max_shift: float = Field(default=0.05, ge=0, lt=0.5)
    class_weighting: bool = True
    device: Literal["cpu", "cuda", "auto"] = "auto"


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

    ``train`` holds :class:`TrainConfig` fields but ``seed`` (``train.seeds``), checked here;
    ``hparams`` and ``trainer_options`` are checked against the model and trainer registries
    when `mer train` starts (:func:`mer.stages.train.make_job`), before any data is read.
    """

    name: str  # registry name (several entries may share one model with other settings)
    hparams: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    pretrain: PretrainParams = PretrainParams()
    trainer: str = "supervised"  # see mer.training.registry
    trainer_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("train")
    @classmethod
    def _train_config(cls, train: dict[str, Any]) -> dict[str, Any]:
        if "seed" in train:
            raise ValueError("set the seeds in train.seeds, not in a model entry")
        TrainConfig.model_validate(train)
        return train


class AblationParams(Section):
    """An ablation: its ``base`` entry of `models` and only the keys that differ from it.

    ``hparams``, ``train``, ``pretrain`` and ``trainer_options`` are merged key by key over the
    base's; ``name`` and ``trainer`` replace the base's. Everything else (every budget setting)
    is inherited, so an ablation trains at its base's budget (:meth:`Params.entry`).
    """

    base: str
    name: str | None = None
    hparams: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    pretrain: dict[str, Any] = Field(default_factory=dict)
    trainer: str | None = None
    trainer_options: dict[str, Any] = Field(default_factory=dict)

    def changes(self) -> dict[str, Any]:
        """The declared changes, flattened: ``{"trainer_options.use_aux": False, ...}``."""
        flat: dict[str, Any] = {}
        for key, value in self.model_dump(exclude={"base"}, exclude_defaults=True).items():
            if isinstance(value, dict):
                flat |= {f"{key}.{inner}": v for inner, v in value.items()}
            else:
                flat[key] = value
        return flat

    def apply(self, base: ModelParams) -> ModelParams:
        """Return ``base`` with this ablation's changes (raises ValidationError if invalid)."""
        merged = base.model_dump()
        for key, value in self.model_dump(exclude={"base"}, exclude_defaults=True).items():
            merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
        return ModelParams.model_validate(merged)


class TrainParams(Section):
    """Leave-one-subject-out training shared by every model."""

    n_val_subjects: int = Field(default=1, ge=0)  # drawn from each fold's training subjects
    seeds: Seeds = (0,)  # one run per seed, in the same folds (drawn with the first seed)
    label_noise: float = Field(default=0.0, ge=0, le=1)  # symmetric noise on training labels
    shots_per_class: int | None = Field(default=None, ge=1)  # k clips per class per subject


class RuntimeParams(Section):
    """Where and how fast the work runs. Only ``threads`` changes results: torch's float32
    reductions are split by thread, and training amplifies the last bits, so the training stages
    depend on it (``dvc.yaml``); the rest changes no result and no stage depends on it."""

    threads: int = Field(default=1, ge=1)  # torch CPU threads of each stage
    stages_at_once: int = Field(default=2, ge=1)  # DVC stages `mer run` runs at once
    dask_address: str | None = None  # e.g. tcp://scheduler:8786: folds go to a Dask cluster
    clips_per_task: int = Field(default=16, ge=1)  # clips aligned by one task
    flow_batches_per_task: int = Field(default=1, ge=1)  # flow.batch_size batches per task


class ExperimentsParams(Section):
    """`make experiments`: the seeds every default model, ablation and robustness condition is
    trained with there (the folds are those of `train`, drawn with ``train.seeds[0]``)."""

    seeds: Seeds = (0, 1, 2)


class RobustnessCondition(Section):
    """A robustness condition of `make robustness`: what it changes in the training folds."""

    label_noise: float = Field(default=0.0, ge=0, le=1)  # symmetric noise on training labels
    shots_per_class: int | None = Field(default=None, ge=1)  # k clips per class per subject


class EvaluateParams(Section):
    """Scoring of the pooled LOSO predictions and the paired comparisons."""

    n_resamples: int = Field(default=1000, ge=10)  # bootstrap over subjects
    seed: int = 0
    baseline: str = "flow_logreg"  # the named baseline every model is compared with


class MA2MIConfig(Section):
    """How MA2MI pretrains (docs/ma2mi.md).

    Attributes:
        epochs: passes; each draws ``samples_per_clip`` new triplets per clip.
        batch_size: triplets per optimisation step.
        lr: AdamW learning rate (cosine annealed to 0 over the epochs).
        weight_decay: AdamW's decoupled weight decay.
        samples_per_clip: frame pairs ``(i, j)`` drawn per clip and epoch.
        max_step: largest span ``|j - i|``, frames (None: the whole clip, onset -> apex).
        code_dim: length of the action code, the bottleneck between the change and the decoder.
        gradient_weight: weight of the image-gradient L1 term (0 = plain L1).
        hflip: flip half of the triplets left-right.
        seed: seeds the initialisation, the triplets, their order and the flips.
    """

    epochs: int = Field(default=12, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    samples_per_clip: int = Field(default=8, ge=1)
    max_step: int | None = Field(default=None, ge=1)
    code_dim: int = Field(default=16, ge=1)
    gradient_weight: float = Field(default=0.5, ge=0)
    hflip: bool = True
    seed: int = 0


class MA2MIParams(MA2MIConfig):
    """Stage `pretrain` (docs/ma2mi.md): MA2MI's settings and which model's encoders it trains."""

    model: Literal["miacnet"] = "miacnet"  # the registered model whose encoders are pretrained
    hparams: dict[str, Any] = Field(default_factory=dict)  # = the finetuned entry's hparams
    on_overlap: Literal["exclude", "accept"] = "exclude"  # macro subjects also in micro corpus
    held_out: float = Field(default=0.2, gt=0, lt=1)  # share of macro subjects kept to measure

    def config(self) -> MA2MIConfig:
        """MA2MI's settings alone."""
        return MA2MIConfig.model_validate({name: getattr(self, name)
                                           for name in MA2MIConfig.model_fields})


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
    ablations: dict[str, AblationParams] = Field(default_factory=dict)  # `make experiments`
    robustness: dict[str, RobustnessCondition] = Field(default_factory=dict)  # `make robustness`
    experiments: ExperimentsParams = ExperimentsParams()
    evaluate: EvaluateParams = EvaluateParams()
    runtime: RuntimeParams = RuntimeParams()
    retrain: RetrainParams = RetrainParams()

    @model_validator(mode="after")
    def _resolvable(self) -> Params:
        """Every ablation names a base model and merges into a valid entry; no name is both; an
        entry that starts from the pretrain checkpoint has its model and hyper-parameters."""
        both = sorted(set(self.models) & set(self.ablations))
        if both:
            raise ValueError(f"entries {both} are both in models and in ablations")
        for name in [*self.models, *self.ablations]:
            entry = self.entry(name)
            if entry.pretrain.kind == "checkpoint" and (
                    entry.name != self.pretrain.model or entry.hparams != self.pretrain.hparams):
                raise ValueError(
                    f"{name}: pretrain.kind checkpoint starts from the pretrain stage's "
                    f"{self.pretrain.model} {self.pretrain.hparams}, but the entry is "
                    f"{entry.name} {entry.hparams}; make pretrain.model and pretrain.hparams "
                    "equal them")
        return self

    def entry(self, name: str) -> ModelParams:
        """The model entry ``name`` of `models`, or the ablation ``name`` applied to its base.

        Raises:
            ValueError: unknown entry, unknown base, or changes that make an invalid entry.
        """
        if name in self.models:
            return self.models[name]
        if name not in self.ablations:
            raise ValueError(f"no models.{name} nor ablations.{name} (known: "
                             f"{', '.join([*self.models, *self.ablations])})")
        ablation = self.ablations[name]
        if ablation.base not in self.models:
            raise ValueError(f"ablations.{name}.base: {ablation.base!r} is not an entry of "
                             f"models (known: {sorted(self.models)})")
        try:
            return ablation.apply(self.models[ablation.base])
        except ValidationError as error:
            raise ValueError(f"ablations.{name}: {error}") from error


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
