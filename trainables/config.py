"""The typed trial configuration: everything a trial and its final evaluation need.

The driver builds one ``TrialConfig`` per arm from the study spec (the spec's
pydantic models hold every default; nothing here has one) and Ray ships it,
pickled, to every worker. It holds plain values only: no dependency on
``orchestrator``, nothing expensive to pickle.
"""

from dataclasses import dataclass, replace
from typing import Any

from . import storage
from .direction import Direction
from .heads import OutputHead
from .seeding import derive_seed

LossSpec = str | dict[str, float]  # one name, "a+b" (equal weights), or name -> weight


@dataclass(frozen=True)
class DataSource:
    """Where a dataset's images come from and how they are prepared (the spec's dataset entry)."""

    name: str
    kind: str  # "synthetic" (generated from the data seed) or "folder" (the project's format)
    path: str | None
    shape: str  # synthetic: "cells" or "cracks"
    num_images: int  # synthetic
    image_size: int  # synthetic
    resize: tuple[int, int] | None  # [height, width], before tiling
    tile: int | None  # non-overlapping square tiles of this size
    channels: int | None  # convert images to this many channels


@dataclass(frozen=True)
class DataSplit:
    """The source images (stems) of each part; tiles of one image never cross parts."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    @property
    def held_out(self) -> tuple[str, tuple[str, ...]]:
        """The split the final evaluation uses: test, or validation when there is no test split."""
        return ("test", self.test) if self.test else ("val", self.val)


@dataclass(frozen=True)
class LrSchedule:
    kind: str  # "none", "plateau" (on the validation loss) or "cosine" (over the epochs)
    factor: float  # plateau: the learning rate is multiplied by this
    patience: int  # plateau: after this many epochs without a lower validation loss
    min_lr: float  # the floor of either schedule


@dataclass(frozen=True)
class EarlyStopping:
    metric: str  # a reported metric, e.g. val_loss
    direction: Direction
    patience: int  # stop after this many epochs without improvement


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int
    batch_size: int
    loss: LossSpec
    focal_gamma: float
    mixed_precision: str  # "auto" (bf16 autocast on GPU), "off" or "bf16"
    augmentation: str
    stochastic_width: bool
    loader_workers: int | None  # None: the worker's CPUs beyond the first
    channels_last: bool  # NHWC memory format for the model and each batch
    cudnn_benchmark: bool  # torch.backends.cudnn.benchmark
    compile: bool  # torch.compile the model the training steps run
    output: OutputHead  # softmax over classes, or a binary task's 1-channel sigmoid
    lr_schedule: LrSchedule
    early_stopping: EarlyStopping | None  # None: every trial runs all its epochs

    def with_sampled(self, hyper: dict[str, Any]) -> "TrainingSettings":
        """These settings with whatever the trial's search space sampled (loss, focal_gamma, augmentation)."""
        sampled = {name: hyper[name] for name in ("loss", "focal_gamma", "augmentation") if name in hyper}
        return replace(self, **sampled)


@dataclass(frozen=True)
class Resources:
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    max_failures: int  # Ray Train restarts of a trial after a worker failure

    @property
    def use_gpu(self) -> bool:
        return self.gpus_per_worker > 0

    @property
    def per_worker(self) -> dict[str, float]:
        return {"CPU": self.cpus_per_worker, **({"GPU": self.gpus_per_worker} if self.use_gpu else {})}


@dataclass(frozen=True)
class EvaluationSettings:
    presence_min_pixels: int  # a defect is present with at least this many pixels
    threshold_sweep: bool  # binary tasks: pick the probability threshold on validation
    threshold: float | None  # binary tasks: a fixed probability threshold; neither: argmax
    threshold_rows: dict[str, float]  # row name -> a fixed threshold: more rows from the same checkpoint
    checkpoint: str  # "best" (the best epoch by the study's metric) or "last"


@dataclass(frozen=True)
class TrialConfig:
    """One arm's fixed settings; a trial adds only its sampled hyperparameters."""

    study: str
    arm_id: str
    seed: int  # the study's seed
    data: DataSource
    data_seed: int
    split: DataSplit
    fold: int | None
    architecture: str  # registry name
    architecture_key: str  # the spec's label for it (the name unless labelled)
    architecture_params: dict[str, Any]
    variant: str  # registry name
    variant_key: str  # the spec's label for this arm's variant entry (the name unless labelled)
    search_space: str
    training: TrainingSettings
    resources: Resources
    evaluation: EvaluationSettings
    metric: str
    direction: Direction
    train_storage: str  # where Ray Train keeps each trial's run and checkpoints
    # Tune's scheduler may stop a trial mid-run (ASHA): its Train run then needs Ray's placement-group
    # cleaner (an actor per trial), as nothing else frees the workers' resources of a run stopped so.
    stopped_mid_run: bool = False

    def trial_seed(self, hyper: dict[str, Any]) -> int:
        """The trial's training seed: from the study seed, the arm and the sampled configuration
        (Tune's trial ids are random, so they cannot be part of it)."""
        return derive_seed(self.seed, self.arm_id, sorted(hyper.items()))

    def threshold_row(self, variant_key: str, arm_id: str, threshold: float) -> "TrialConfig":
        """This arm's configuration as the extra table row ``variant_key``: its checkpoint at ``threshold``."""
        evaluation = replace(self.evaluation, threshold_sweep=False, threshold=threshold, threshold_rows={})
        return replace(self, variant_key=variant_key, arm_id=arm_id, evaluation=evaluation)

    def train_run_name(self, trial_id: str) -> str:
        """A deterministic Ray Train run name: a restarted trial finds its own checkpoints."""
        return f"{self.arm_id}__{trial_id}"

    def train_run_location(self, trial_id: str) -> str:
        """Where that run keeps its checkpoints: a folder, or a prefix in an object store."""
        return storage.join(self.train_storage, self.train_run_name(trial_id))


@dataclass(frozen=True)
class SampledTrial:
    """A trial's whole input: its arm's configuration, the sampled hyperparameters and the training seed."""

    config: TrialConfig
    hyper: dict[str, Any]
    seed: int
