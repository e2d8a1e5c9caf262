"""Checks that need the model registry, the search spaces or the file system.

Run before a study is submitted, so that no trial starts on a spec that cannot work.
"""

from pathlib import Path
from types import ModuleType
from typing import Any

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

import search_spaces
from trainables.augment import POLICIES
from trainables.data import dataset_class_names, source_stems
from trainables.losses import BINARY_LOSSES, LOSSES, loss_weights
from trainables.metrics import metric_names
from trainables.models import ARCHITECTURES, VARIANTS, bottleneck_channels
from trainables.seeding import derive_seed
from trainables.splits import SplitError, make_split

from .datasets.check import check_dataset
from .errors import UserError
from .spec import Arm, DatasetSpec, StudySpec

# hyperparameter -> (lowest allowed, highest allowed, exclusive low); "bottleneck" is the arm's channel count
_BOUNDS: dict[str, tuple[Any, Any, bool]] = {
    "lr": (0.0, None, True),
    "frem_b": (1, "bottleneck", False),
    "frem_x": (0.0, None, True),
    "ds_lambda": (0.0, 1.0, False),
    "dropout_p": (0.0, 1.0, False),
}


def space_context(arm: Arm) -> dict[str, Any]:
    channels = bottleneck_channels(arm.architecture.name, arm.architecture.params, arm.variant.name)
    return {"bottleneck_channels": channels}


def validate_study(spec: StudySpec) -> dict[str, ModuleType]:
    """Raise ``UserError`` on the first problem; return each arm's search-space module."""
    for variant in spec.variants:
        if variant.name not in VARIANTS:
            raise UserError(f"unknown variant {variant.name!r}; known: {', '.join(VARIANTS)}")
    for architecture in spec.architectures:
        for variant in spec.variants:
            try:
                bottleneck_channels(architecture.name, architecture.params, variant.name)
            except (KeyError, ValueError) as error:
                raise UserError(f"{error.args[0]}; fix `architectures:` in the spec") from None
        weights = architecture.params.get("encoder_weights_path")
        if weights and not Path(weights).is_file():
            raise UserError(f"architecture {architecture.key!r}: encoder weights file {weights} not found; fix encoder_weights_path")
    for dataset in spec.datasets:
        _check_dataset(spec, dataset)
    _check_metric(spec)
    _check_loss(spec)
    spaces = {}
    for arm in spec.arms():
        spaces[arm.id] = _check_space(arm)
    return spaces


def data_seed(spec: StudySpec, dataset: DatasetSpec) -> int:
    return derive_seed(spec.seed, "data", dataset.name)


def compute_split(spec: StudySpec, dataset: DatasetSpec) -> dict:
    """The dataset's split over source images; raises ``UserError`` if a part or fold would be empty."""
    config = dataset.model_dump()
    try:
        return make_split(source_stems(config), dataset.split.val, dataset.split.test, dataset.split.folds,
                          dataset.split.fold or 0, data_seed(spec, dataset))
    except SplitError as error:
        raise UserError(f"dataset {dataset.name!r}: {error}") from None


def _check_dataset(spec: StudySpec, dataset: DatasetSpec) -> None:
    if dataset.kind == "folder":
        try:
            info = check_dataset(dataset.path)
        except UserError as error:
            raise UserError(f"dataset {dataset.name!r}: {error}") from None
        sizes = info.sizes
        classes = len(info.manifest["classes"])
    else:
        sizes, classes = {(dataset.image_size, dataset.image_size)}, 2
    if dataset.resize:
        sizes = {tuple(dataset.resize)}
    if dataset.tile and any(min(size) < dataset.tile for size in sizes):
        raise UserError(f"dataset {dataset.name!r}: tile {dataset.tile} is larger than images of size {min(sizes)}; use a smaller tile")
    if spec.training.stochastic_width and classes != 2:
        raise UserError(f"dataset {dataset.name!r}: stochastic_width needs a binary dataset (it has {classes} classes)")
    compute_split(spec, dataset)


def _check_metric(spec: StudySpec) -> None:
    allowed = {"val_loss", "train_loss"}
    for dataset in spec.datasets:
        allowed |= {f"val_{name}" for name in metric_names(dataset_class_names(dataset.model_dump()))}
    if spec.metric not in allowed:
        raise UserError(f"metric {spec.metric!r} is not reported by trials; use one of: {', '.join(sorted(allowed))}")


def _check_loss(spec: StudySpec) -> None:
    names = list(loss_weights(spec.training.loss))
    unknown = [name for name in names if name not in LOSSES]
    if unknown:
        raise UserError(f"training.loss: unknown loss {unknown[0]!r}; use one of {', '.join(LOSSES)} or a mapping of them to weights")
    binary = [name for name in names if name in BINARY_LOSSES]
    for dataset in spec.datasets:
        classes = len(dataset_class_names(dataset.model_dump()))
        if binary and classes != 2:
            raise UserError(f"training.loss: {binary[0]!r} is a binary loss but dataset {dataset.name!r} has {classes} classes; use ce, dice, jaccard or focal")


def _check_space(arm: Arm) -> ModuleType:
    try:
        space = search_spaces.load_space(arm.variant.space)
    except LookupError as error:
        raise UserError(f"arm {arm.id}: {error}") from None
    needed = {"lr", *VARIANTS[arm.variant.name]}
    undeclared = needed - set(space.PARAMETERS)
    if undeclared:
        raise UserError(
            f"arm {arm.id}: variant {arm.variant.name!r} needs {', '.join(sorted(undeclared))} but search space "
            f"{arm.variant.space!r} does not declare it; pick a space that samples it"
        )
    # Sample once on a throwaway study to check names and ranges before any trial runs.
    context = space_context(arm)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    try:
        space.sample(trial, context)
    except Exception as error:  # a space is user code: report what it raised, with where
        raise UserError(f"arm {arm.id}: search space {arm.variant.space!r} failed to sample: {error}") from None
    extra = set(trial.params) - set(space.PARAMETERS)
    if extra:
        raise UserError(
            f"search space {arm.variant.space!r} suggests {', '.join(sorted(extra))} without declaring it; "
            "add it to the module's PARAMETERS"
        )
    for name, distribution in trial.distributions.items():
        _check_bounds(arm, name, distribution, context)
    return space


def _check_bounds(arm: Arm, name: str, distribution, context: dict[str, Any]) -> None:
    if name == "loss":
        unknown = {choice for choice in distribution.choices for part in loss_weights(choice) if part not in LOSSES}
        if unknown:
            raise UserError(f"arm {arm.id}: search space {arm.variant.space!r} samples unknown losses "
                            f"{sorted(unknown)}; use {', '.join(LOSSES)}")
        return
    if name == "augmentation":
        unknown = set(distribution.choices) - set(POLICIES)
        if unknown:
            raise UserError(f"arm {arm.id}: search space {arm.variant.space!r} samples unknown augmentation policies "
                            f"{sorted(unknown)}; use {', '.join(POLICIES)}")
        return
    if name not in _BOUNDS or not hasattr(distribution, "low"):
        return
    low, high, exclusive = _BOUNDS[name]
    high = context["bottleneck_channels"] if high == "bottleneck" else high
    too_low = distribution.low <= low if exclusive else distribution.low < low
    too_high = high is not None and distribution.high > high
    if too_low or too_high:
        allowed = f"{'(' if exclusive else '['}{low}, {high if high is not None else 'inf'}]"
        raise UserError(
            f"arm {arm.id}: search space {arm.variant.space!r} samples {name} in "
            f"[{distribution.low}, {distribution.high}], outside the allowed {allowed}; narrow its range"
        )


def known_architectures() -> list[str]:
    return sorted(ARCHITECTURES)
