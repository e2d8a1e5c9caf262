"""Checks that need the model registry, the search spaces or the file system.

Run once before a study starts (or resumes), so that no trial starts on a spec that cannot work.
"""

from pathlib import Path
from types import ModuleType
from typing import Any

import optuna

import search_spaces
from orchestrator.datasets.check import check_dataset
from orchestrator.errors import UserError
from orchestrator.reports.references import load_references, metric_column
from orchestrator.results.schema import table_schemas
from orchestrator.study.spec import Arm, DatasetSpec, StudySpec
from orchestrator.study.splits import compute_split
from trainables.data import class_names_of, is_multi_label, source_names
from trainables.heads import OutputHead
from trainables.loss_names import BINARY_LOSSES, LOSSES, MULTILABEL_LOSSES, loss_weights
from trainables.metric_names import metric_names
from trainables.policy_names import POLICIES

optuna.logging.set_verbosity(optuna.logging.WARNING)


def space_context(arm: Arm) -> dict[str, Any]:
    """Facts about the arm that a search space may use (the upper bound of FREM's B)."""
    from trainables.architecture_names import bottleneck_channels

    channels = bottleneck_channels(arm.architecture.name, arm.architecture.params, arm.variant.name)
    return {"bottleneck_channels": channels}


def validate_study(spec: StudySpec) -> dict[str, ModuleType]:
    """Raise ``UserError`` on the first problem; return each arm's search-space module."""
    _check_models(spec)
    for dataset in spec.datasets:
        _check_dataset(spec, dataset)
    _check_metric(spec)
    _check_loss(spec)
    _check_compare(spec)
    _check_trackers(spec)
    return {arm.id: _check_space(arm) for arm in spec.arms()}


def _check_trackers(spec: StudySpec) -> None:
    """A tracker whose package is not installed is refused before anything runs."""
    if not spec.tracking.mlflow:
        return
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise UserError(
            "tracking.mlflow needs MLflow: pip install 'seg-orchestrator[mlflow]' (or remove tracking.mlflow)"
        ) from None


def _check_models(spec: StudySpec) -> None:
    # The architectures' facts and the variants load without torch (so does `orchestrate run`); loaded
    # by the checks that need them, so that the arms' drivers, which import this module, never do.
    from trainables.architecture_names import bottleneck_channels
    from trainables.variants import variants

    for variant in spec.variants:
        if variant.name not in variants():
            raise UserError(f"unknown variant {variant.name!r}; known: {', '.join(variants())}")
    for architecture in spec.architectures:
        for variant in spec.variants:
            try:
                bottleneck_channels(architecture.name, architecture.params, variant.name)
            except (KeyError, ValueError) as error:
                raise UserError(f"{error.args[0]}; fix `architectures:` in the spec") from None
        weights = architecture.params.get("encoder_weights_path")
        if weights and not Path(weights).is_file():
            raise UserError(
                f"architecture {architecture.key!r}: encoder weights file {weights} not found; fix encoder_weights_path"
            )


def _check_dataset(spec: StudySpec, dataset: DatasetSpec) -> None:
    if dataset.kind == "folder":
        try:
            info = check_dataset(dataset.path)
        except UserError as error:
            raise UserError(f"dataset {dataset.name!r}: {error}") from None
        sizes = info.sizes
        classes = len(info.manifest.classes)
    else:
        sizes, classes = {(dataset.image_size, dataset.image_size)}, 2
    if dataset.resize:
        sizes = {tuple(dataset.resize)}
    if dataset.tile and any(min(size) < dataset.tile for size in sizes):
        raise UserError(
            f"dataset {dataset.name!r}: tile {dataset.tile} is larger than images of size {min(sizes)}; "
            "use a smaller tile"
        )
    arms = [arm for arm in spec.arms() if arm.dataset is dataset]
    if not is_multi_label(dataset.source()):  # a multi-label dataset's arms: _check_multilabel
        _check_binary_settings(dataset, arms, classes)
    compute_split(spec, dataset)


def _check_binary_settings(dataset: DatasetSpec, arms: list[Arm], classes: int) -> None:
    if classes != 2 and any(arm.training.stochastic_width for arm in arms):
        raise UserError(f"dataset {dataset.name!r}: stochastic_width needs a binary dataset (it has {classes} classes)")
    if classes != 2 and any(arm.evaluation.threshold_rows for arm in arms):
        raise UserError(f"dataset {dataset.name!r}: threshold_rows need a binary dataset (it has {classes} classes)")


def _check_metric(spec: StudySpec) -> None:
    allowed = {"val_loss", "train_loss"}
    for dataset in spec.datasets:
        allowed |= {f"val_{name}" for name in metric_names(class_names_of(dataset.source()))}
    if spec.metric not in allowed:
        raise UserError(f"metric {spec.metric!r} is not reported by trials; use one of: {', '.join(sorted(allowed))}")
    stopping = spec.training.early_stopping
    if stopping and stopping.metric not in allowed:
        raise UserError(
            f"training.early_stopping.metric {stopping.metric!r} is not reported by trials; "
            f"use one of: {', '.join(sorted(allowed))}"
        )


def _check_loss(spec: StudySpec) -> None:
    for arm in spec.arms():  # an arm's variant entry may choose its own loss and output head
        names = list(loss_weights(arm.training.loss))
        unknown = [name for name in names if name not in LOSSES]
        if unknown:
            raise UserError(
                f"arm {arm.id}: training.loss: unknown loss {unknown[0]!r}; "
                f"use one of {', '.join(LOSSES)} or a mapping of them to weights"
            )
        if is_multi_label(arm.dataset.source()) or arm.training.output.multi_label:
            _check_multilabel(arm, names)
        else:
            _check_binary_loss(arm, names, len(class_names_of(arm.dataset.source())))


def _check_multilabel(arm: Arm, names: list[str]) -> None:
    """Multi-label data (overlapping classes, 003 §5.1.3) and the multilabel head go together."""
    if not is_multi_label(arm.dataset.source()):
        raise UserError(
            f"arm {arm.id}: training.output: multilabel needs a multi-label dataset ({arm.dataset.name!r} "
            "is single-label); use softmax"
        )
    if not arm.training.output.multi_label:
        raise UserError(
            f"arm {arm.id}: dataset {arm.dataset.name!r} is multi-label (classes may overlap); "
            "set training.output: multilabel"
        )
    other = [name for name in names if name not in MULTILABEL_LOSSES]
    if other:
        raise UserError(
            f"arm {arm.id}: a multilabel output trains with {' or '.join(MULTILABEL_LOSSES)}, not {other[0]!r}; "
            "set training.loss"
        )
    if arm.evaluation.threshold_sweep or arm.training.stochastic_width:
        raise UserError(
            f"arm {arm.id}: threshold_sweep and stochastic_width need a binary dataset; "
            f"{arm.dataset.name!r} is multi-label"
        )


def _check_binary_loss(arm: Arm, names: list[str], classes: int) -> None:
    binary = [name for name in names if name in BINARY_LOSSES]
    if binary and classes != 2:
        raise UserError(
            f"arm {arm.id}: training.loss: {binary[0]!r} is a binary loss but dataset {arm.dataset.name!r} "
            f"has {classes} classes; use ce, dice, jaccard or focal"
        )
    if arm.training.output is not OutputHead.SIGMOID:
        return
    if classes != 2:
        raise UserError(
            f"arm {arm.id}: training.output: sigmoid needs a binary dataset ({arm.dataset.name!r} has "
            f"{classes} classes); use softmax"
        )
    other = [name for name in names if name not in BINARY_LOSSES]
    if other:
        raise UserError(
            f"arm {arm.id}: a sigmoid output trains with a binary loss ({', '.join(BINARY_LOSSES)}), "
            f"not {other[0]!r}; set training.loss"
        )


def _check_compare(spec: StudySpec) -> None:
    """The paper's columns must be test metrics of these datasets; its published numbers must load."""
    classes = [name for dataset in spec.datasets for name in class_names_of(dataset.source())]
    sources = [name for dataset in spec.datasets for name in source_names(dataset.source())]
    columns = set(table_schemas({}, classes, sources)["tests"].names)
    for name in spec.compare.metrics:
        if metric_column(name) not in columns:
            known = sorted(c.removeprefix("test_") for c in columns if c.startswith("test_"))
            raise UserError(f"compare.metrics: {name!r} is not a test metric of these datasets; use {', '.join(known)}")
    if spec.compare.reference:
        load_references(Path(spec.compare.reference))


def fixed_hyperparameters(arm: Arm) -> dict[str, Any]:
    """The arm's ``fixed:`` hyperparameters, cast to the types its search space declares."""
    try:
        return search_spaces.fixed_values(search_spaces.load_space(arm.variant.space), arm.variant.fixed)
    except ValueError as error:
        raise UserError(f"arm {arm.id}: variant entry {error}; fix its `fixed:`") from None


def _check_space(arm: Arm) -> ModuleType:
    from trainables.variants import get_variant

    try:
        space = search_spaces.load_space(arm.variant.space)
    except LookupError as error:
        raise UserError(f"arm {arm.id}: {error}") from None
    undeclared = {"lr", *get_variant(arm.variant.name).hyperparameters} - set(space.PARAMETERS)
    if undeclared:
        raise UserError(
            f"arm {arm.id}: variant {arm.variant.name!r} needs {', '.join(sorted(undeclared))} but search space "
            f"{arm.variant.space!r} does not declare it; pick a space that samples it"
        )
    # Sample once on a throwaway study to check names and ranges before any trial runs.
    context, fixed = space_context(arm), fixed_hyperparameters(arm)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    try:
        search_spaces.sample(space, trial, context, fixed)
    except Exception as error:  # a space is user code: report what it raised, with where
        raise UserError(f"arm {arm.id}: search space {arm.variant.space!r} failed to sample: {error}") from None
    extra = set(trial.params) - set(space.PARAMETERS)
    if extra:
        raise UserError(
            f"search space {arm.variant.space!r} suggests {', '.join(sorted(extra))} without declaring it; "
            "add it to the module's PARAMETERS"
        )
    for name, distribution in trial.distributions.items():
        _check_choices(arm, name, distribution)
        _check_bounds(arm, name, distribution, context["bottleneck_channels"])
    for name, value in fixed.items():
        _check_fixed_bound(arm, name, value, context["bottleneck_channels"])
    return space


# Categorical hyperparameters whose choices must be known names: name -> (what they are, the known names)
_CHOICES = {"loss": ("losses", LOSSES), "augmentation": ("augmentation policies", POLICIES)}


def _check_choices(arm: Arm, name: str, distribution) -> None:
    if name not in _CHOICES:
        return
    what, known = _CHOICES[name]
    # a loss choice may be a sum such as "ce+dice": each part must be known
    parts = {part for choice in distribution.choices for part in (loss_weights(choice) if name == "loss" else [choice])}
    unknown = parts - set(known)
    if unknown:
        raise UserError(
            f"arm {arm.id}: search space {arm.variant.space!r} samples unknown {what} "
            f"{sorted(unknown)}; use {', '.join(known)}"
        )


def _outside_bound(name: str, low: float, high: float, bottleneck: int) -> str | None:
    """The allowed range of ``name``, described, when [low, high] leaves it; None when inside or unbounded."""
    from trainables.variants import hyperparameter_bounds

    bound = hyperparameter_bounds().get(name)
    if bound is None or bound.allows(low, high, bottleneck):
        return None
    return bound.describe(bottleneck)


def _check_bounds(arm: Arm, name: str, distribution, bottleneck: int) -> None:
    if not hasattr(distribution, "low"):
        return
    allowed = _outside_bound(name, distribution.low, distribution.high, bottleneck)
    if allowed:
        raise UserError(
            f"arm {arm.id}: search space {arm.variant.space!r} samples {name} in "
            f"[{distribution.low}, {distribution.high}], outside the allowed {allowed}; narrow its range"
        )


def _check_fixed_bound(arm: Arm, name: str, value: Any, bottleneck: int) -> None:
    allowed = _outside_bound(name, value, value, bottleneck) if isinstance(value, int | float) else None
    if allowed:
        raise UserError(f"arm {arm.id}: fixed {name}={value} is outside the allowed {allowed}; fix its `fixed:`")


def _gpus_here() -> int:
    import torch  # seconds to import: only for a study that asks for GPUs

    return torch.cuda.device_count()


def check_fits_this_machine(spec: StudySpec) -> None:
    """A local study whose trials ask for more than this machine has would wait forever: refuse it now."""
    import os

    resources = spec.resources
    wants = {"CPU": resources.workers * resources.cpus_per_worker}
    have = {"CPU": os.cpu_count() or 1}
    if resources.gpus_per_worker:  # a CPU study counts no GPUs, so it never loads torch here
        wants["GPU"] = resources.workers * resources.gpus_per_worker
        have["GPU"] = _gpus_here()
    short = [kind for kind in wants if wants[kind] > have[kind]]
    if short:
        asked = ", ".join(f"{wants[kind]:g} {kind}" for kind in wants)
        has = ", ".join(f"{have[kind]:g} {kind}" for kind in have)
        raise UserError(
            f"each trial asks for {asked} ({resources.workers} worker(s)), but this machine has {has}; "
            f"lower `resources:` in the spec, or run on a cluster with --address"
        )
