"""The study spec: a YAML file, validated before anything starts.

A study is datasets x architectures x variants; every (dataset, architecture,
variant) cell is an *arm*, searched with the same budget.
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import UserError
from trainables.config import (
    DataSource,
    EarlyStopping,
    EvaluationSettings,
    LrSchedule,
    Resources,
    TrainingSettings,
)
from trainables.direction import Direction
from trainables.heads import OutputHead
from trainables.policy_names import POLICIES

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitSpec(_Strict):
    """Fractions (< 1) or counts (>= 1) of source images; with ``folds``, the non-test images are cut
    into K folds and every fold is searched as its own arm (or only fold ``fold``, when given).
    The test split is never seen during the search."""

    val: float = Field(0.25, gt=0)
    test: float = Field(0.0, ge=0)
    folds: int | None = Field(None, ge=2)
    fold: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _fold_needs_folds(self):
        if self.fold is not None and not self.folds:
            raise ValueError("`fold:` picks one of K folds and needs `folds: K`")
        return self

    def fold_numbers(self) -> list[int | None]:
        if not self.folds:
            return [None]
        return [self.fold] if self.fold is not None else list(range(self.folds))


class DatasetSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["synthetic", "folder"] = "folder"
    path: str | None = None  # folder datasets; relative paths are relative to the spec file
    shape: Literal["cells", "cracks", "defects"] = "cells"  # synthetic only; defects: 4 overlapping (multi-label)
    num_images: int = Field(32, ge=4)  # synthetic only
    image_size: int = Field(64, ge=8)  # synthetic only
    split: SplitSpec = SplitSpec()
    resize: tuple[int, int] | None = None  # [height, width], before tiling
    tile: int | None = Field(None, gt=0)  # non-overlapping square tiles of this size
    channels: Literal[1, 3] | None = None  # convert images (e.g. grayscale to 3 channels for smp encoders)

    @model_validator(mode="after")
    def _folder_needs_path(self):
        if self.kind == "folder" and not self.path:
            raise ValueError(f"dataset {self.name!r} is a folder dataset and needs `path:`")
        return self

    def source(self) -> DataSource:
        """What a trial needs to load this dataset."""
        return DataSource(**self.model_dump(exclude={"split"}))


class ArchitectureSpec(_Strict):
    name: str
    label: str | None = Field(None, pattern=NAME_PATTERN)  # to compare one architecture at two settings
    params: dict[str, Any] = {}

    @property
    def key(self) -> str:
        return self.label or self.name


class TrainingOverrides(_Strict):
    """The training settings one arm may set differently from the study (a paper's rows often do)."""

    loss: str | dict[str, float] | None = None
    focal_gamma: float | None = Field(None, ge=0)
    augmentation: Literal[POLICIES] | None = None
    stochastic_width: bool | None = None
    output: OutputHead | None = None


class EvaluationOverrides(_Strict):
    """The final-evaluation settings one arm may set differently (e.g. 002's SW94/SW95/SW96 rows)."""

    threshold_sweep: bool | None = None
    threshold: float | None = Field(None, gt=0, lt=1)
    threshold_rows: dict[str, Annotated[float, Field(gt=0, lt=1)]] | None = None
    presence_min_pixels: int | None = Field(None, gt=0)


class VariantSpec(_Strict):
    """One variant entry: the variant module, and how this arm differs from the study's defaults."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str | None = Field(None, pattern=NAME_PATTERN)  # a row name, to list one variant at several settings
    search_space: str | None = None  # default: the space named like the variant
    trials: int | None = Field(None, gt=0)  # this arm's trial budget (default: budget.trials_per_arm)
    fixed: dict[str, Any] = {}  # hyperparameters held at these values in every trial instead of searched
    training: TrainingOverrides = TrainingOverrides()
    evaluation: EvaluationOverrides = EvaluationOverrides()

    @property
    def key(self) -> str:
        """The arm's row name in ids, results and tables."""
        return self.label or self.name

    @property
    def space(self) -> str:
        return self.search_space or self.name

    def row_keys(self) -> list[str]:
        """The table rows this entry gives: its own and its threshold rows."""
        return [self.key, *(self.evaluation.threshold_rows or {})]


def _overridden(base: BaseModel, overrides: BaseModel) -> BaseModel:
    """``base`` with every field ``overrides`` sets, validated again as a whole."""
    changes = overrides.model_dump(exclude_none=True)
    return type(base).model_validate({**base.model_dump(), **changes}) if changes else base


class BudgetSpec(_Strict):
    trials_per_arm: int = Field(gt=0)
    epochs: int = Field(gt=0)
    max_concurrent_trials: int = Field(2, gt=0)  # per arm: small, so that TPE learns from most trials
    max_concurrent_trials_total: int | None = Field(None, gt=0)  # the study's; default: what the cluster holds


class AshaSpec(_Strict):
    grace_period: int = Field(1, gt=0)
    reduction_factor: float = Field(2.0, gt=1)


class ResourcesSpec(_Strict):
    workers: int = Field(1, gt=0)
    cpus_per_worker: float = Field(1.0, gt=0)
    gpus_per_worker: float = Field(0.0, ge=0)
    max_failures: int = Field(0, ge=0)  # Ray Train restarts of a trial after a worker failure

    def settings(self) -> Resources:
        return Resources(**self.model_dump())


class LrScheduleSpec(_Strict):
    """002 §2: ReduceLROnPlateau on the validation loss, factor 0.5 after 50 epochs, floor 1e-6."""

    kind: Literal["none", "plateau", "cosine"] = "none"
    factor: float = Field(0.5, gt=0, lt=1)
    patience: int = Field(10, ge=0)
    min_lr: float = Field(0.0, ge=0)

    def settings(self) -> LrSchedule:
        return LrSchedule(**self.model_dump())


class EarlyStoppingSpec(_Strict):
    """003 §5.2: stop when val_loss has not improved for 15 epochs (mode min)."""

    metric: str = "val_loss"
    mode: Direction = Direction.MIN
    patience: int = Field(gt=0)

    def settings(self) -> EarlyStopping:
        return EarlyStopping(metric=self.metric, direction=self.mode, patience=self.patience)


class TrainingSpec(_Strict):
    batch_size: int = Field(8, gt=0)
    # One loss name, or a mapping name -> weight (a weighted sum); a space may search `loss` too.
    loss: str | dict[str, float] = "ce"
    focal_gamma: float = Field(2.0, ge=0)
    mixed_precision: Literal["auto", "off", "bf16"] = "auto"  # auto: bf16 autocast on GPU
    augmentation: Literal[POLICIES] = "none"  # a space may search it
    stochastic_width: bool = False  # binary datasets: each mask also dilated 3x3, 5x5, 8x8
    loader_workers: int | None = Field(None, ge=0)  # default: the worker's CPUs beyond the first
    # Speed switches (the numbers they change are within floating-point noise; cudnn_benchmark lets
    # cuDNN pick the fastest, not always deterministic, kernels, so it is off by default):
    channels_last: bool = False  # NHWC tensors: faster convolutions on tensor-core GPUs
    cudnn_benchmark: bool = False
    compile: bool = False  # torch.compile the training forward and backward (the first epoch pays the compile)
    # sigmoid: binary tasks, 1 output channel (004 §3.5.1); multilabel: multi-label datasets (003 §5.1.3)
    output: OutputHead = OutputHead.SOFTMAX
    lr_schedule: LrScheduleSpec = LrScheduleSpec()
    early_stopping: EarlyStoppingSpec | None = None  # budget.epochs is then the maximum

    def settings(self, epochs: int) -> TrainingSettings:
        plain = self.model_dump(exclude={"lr_schedule", "early_stopping"})
        stopping = self.early_stopping.settings() if self.early_stopping else None
        return TrainingSettings(
            epochs=epochs, lr_schedule=self.lr_schedule.settings(), early_stopping=stopping, **plain
        )


class TrackingSpec(_Strict):
    """Experiment trackers fed through Ray Tune's logger callbacks (orchestrator.run.tracking)."""

    tensorboard: bool = False  # event files per trial under <study>/arms/<arm>/
    mlflow: str | None = None  # a tracking URI: file:/path/mlruns or http://host:5000 (the mlflow extra)


class EvaluationSpec(_Strict):
    """The final evaluation of each arm's best checkpoint on held-out data."""

    presence_min_pixels: int = Field(1, gt=0)  # a defect is present with at least this many pixels
    # Binary tasks predict by argmax unless a protocol asks otherwise (000 Table 1: plain softmax):
    threshold_sweep: bool = False  # pick the probability threshold on validation, apply it to test (002)
    threshold: float | None = Field(None, gt=0, lt=1)  # or a fixed foreground-probability threshold
    # Extra table rows from the same checkpoint, each at a fixed threshold: 002 §3 reports its SW model
    # as SW, SW94, SW95 and SW96 ("SW 95 means ... the model trained on the augmented dataset on which
    # a threshold of 0.95 is applied"), so one trained arm gives every row.
    threshold_rows: dict[str, Annotated[float, Field(gt=0, lt=1)]] = {}
    # Which checkpoint of the best trial: the best epoch by the study's metric, or the last (004 §3.6).
    checkpoint: Literal["best", "last"] = "best"

    @field_validator("threshold_rows")
    @classmethod
    def _row_names(cls, rows: dict[str, float]) -> dict[str, float]:
        bad = [name for name in rows if not re.match(NAME_PATTERN, name)]
        if bad:
            raise ValueError(f"threshold row name {bad[0]!r} must be letters, digits, '_', '.' or '-'")
        return rows

    @model_validator(mode="after")
    def _one_threshold_rule(self) -> "EvaluationSpec":
        if self.threshold_sweep and self.threshold is not None:
            raise ValueError("give evaluation.threshold_sweep or evaluation.threshold, not both")
        return self

    def settings(self) -> EvaluationSettings:
        return EvaluationSettings(**self.model_dump())


class CompareSpec(_Strict):
    """The paper's table: its columns (test metrics) and its published numbers."""

    metrics: list[str] = []  # e.g. [miou, iou_membrane, crack_f1]; default: test mIoU only
    reference: str | None = None  # a CSV of published numbers, relative to the spec file; copied into the study


class StudySpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    storage: str = "runs"
    # Ray Train's trial runs (each trial's checkpoints): an object-store URI every node reaches
    # (s3://bucket/prefix, gs://...), or an absolute folder; default: the study folder's train/.
    checkpoint_storage: str | None = None
    seed: int = 0
    datasets: list[DatasetSpec] = Field(min_length=1)
    architectures: list[ArchitectureSpec] = Field(min_length=1)
    variants: list[VariantSpec] = Field(min_length=1)
    budget: BudgetSpec
    scheduler: Literal["fifo", "asha"] = "fifo"
    asha: AshaSpec = AshaSpec()
    resources: ResourcesSpec = ResourcesSpec()
    training: TrainingSpec = TrainingSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    tracking: TrackingSpec = TrackingSpec()
    metric: str = "val_miou"
    mode: Direction = Direction.MAX
    compare: CompareSpec = CompareSpec()

    @property
    def stops_trials_mid_run(self) -> bool:
        """Whether Tune's scheduler may stop a trial inside its Train run (ASHA)."""
        return self.scheduler == "asha"

    @field_validator("checkpoint_storage")
    @classmethod
    def _checkpoints_where_every_node_reaches(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value and not Path(value).is_absolute():
            raise ValueError(
                f"{value!r} is relative; give a bucket URI (s3://bucket/prefix) or an absolute folder every node sees"
            )
        return value

    @field_validator("architectures", mode="before")
    @classmethod
    def _names_to_architectures(cls, value):
        return [{"name": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @field_validator("variants", mode="before")
    @classmethod
    def _names_to_variants(cls, value):
        return [{"name": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _threshold_rows_per_variant(self):
        if self.evaluation.threshold_rows:
            raise ValueError("threshold_rows name rows of one variant: move them into that variant's `evaluation:`")
        return self

    @model_validator(mode="after")
    def _unique_names(self):
        for what, names in (
            ("dataset", [d.name for d in self.datasets]),
            ("architecture", [a.key for a in self.architectures]),
            ("variant", [key for v in self.variants for key in v.row_keys()]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} {repeated[0]!r} is listed twice; give each a distinct name (or `label:`)")
        return self

    def arms(self) -> list["Arm"]:
        return [
            Arm(self, dataset, architecture, variant, fold)
            for dataset in self.datasets
            for fold in dataset.split.fold_numbers()
            for architecture in self.architectures
            for variant in self.variants
        ]

    def budgets_differ(self) -> bool:
        return len({arm.trials for arm in self.arms()}) > 1


class Arm:
    """One (dataset, architecture, variant) cell of the comparison, on one fold when the dataset has folds,
    with the study's settings as this arm's variant entry overrides them."""

    def __init__(
        self,
        spec: StudySpec,
        dataset: DatasetSpec,
        architecture: ArchitectureSpec,
        variant: VariantSpec,
        fold: int | None = None,
    ):
        self.dataset, self.architecture, self.variant, self.fold = dataset, architecture, variant, fold
        self.trials: int = variant.trials or spec.budget.trials_per_arm
        self.training: TrainingSpec = _overridden(spec.training, variant.training)
        self.evaluation: EvaluationSpec = _overridden(spec.evaluation, variant.evaluation)

    @property
    def id(self) -> str:
        return self.row_id(self.variant.key)

    def row_id(self, variant_key: str) -> str:
        """The id of a row of this arm's results under ``variant_key`` (the arm's own, or a threshold row)."""
        base = f"{self.dataset.name}__{self.architecture.key}__{variant_key}"
        return base if self.fold is None else f"{base}__fold{self.fold}"

    def __repr__(self) -> str:
        return f"Arm({self.id})"


def _format_location(location: tuple) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def parse_spec(data: Any, source: str) -> StudySpec:
    if not isinstance(data, dict):
        raise UserError(f"{source}: a study spec must be a YAML mapping (name:, datasets:, ...); see studies/demo.yaml")
    try:
        return StudySpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
        raise UserError(
            f"{source}: {_format_location(first['loc'])}: {message}{more}; fix the spec and retry"
        ) from None


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a spec; folder dataset paths become absolute (relative to the spec file)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"spec file {path} not found; give the path of a study YAML such as studies/demo.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: malformed YAML{where}: {problem}; fix the syntax and retry") from None
    spec = parse_spec(data, str(path))
    for dataset in spec.datasets:
        if dataset.path and not Path(dataset.path).is_absolute():
            dataset.path = str((path.parent / dataset.path).resolve())
    if spec.compare.reference and not Path(spec.compare.reference).is_absolute():
        spec.compare.reference = str((path.parent / spec.compare.reference).resolve())
    return spec


def dump_spec(spec: StudySpec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True), sort_keys=False)
