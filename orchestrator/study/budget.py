"""Budgets a spec runs at: ``full`` (as written) or ``smoke``, the same study shrunk to minutes on a CPU.

Smoke keeps every arm, every per-arm setting and the protocol's structure
(splits, losses, heads, thresholds, schedules) and shrinks what costs
time: trials (at most 1 per arm), epochs (at most 2), folds (the first one
only, of the same K-fold split), image sizes (a quarter, at most 128 px a
side), network widths (4 base channels, a sixteenth of a set bottleneck) and
resources (one CPU worker). It runs as its own study,
``<name>-smoke``, so it never mixes with a full run.
"""

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports Budget at start-up; the spec (and what it imports) loads only when used
    from orchestrator.study.spec import StudySpec

SMOKE_SUFFIX = "-smoke"
SMOKE_SIDE = 128  # the largest image side of a smoke run
SMOKE_BASE_CHANNELS = 4


class Budget(StrEnum):
    FULL = "full"
    SMOKE = "smoke"


def at_budget(spec: "StudySpec", budget: Budget) -> "StudySpec":
    return spec if budget is Budget.FULL else smoke_spec(spec)


def smoke_spec(spec: "StudySpec") -> "StudySpec":
    from orchestrator.study.spec import StudySpec

    data = spec.model_dump(mode="json", exclude_none=True)
    data["name"] = spec.name + SMOKE_SUFFIX
    data["budget"] = {"trials_per_arm": 1, "epochs": min(spec.budget.epochs, 2), "max_concurrent_trials": 2}
    data["resources"] = {**data["resources"], "workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0}
    data["training"] = {**data["training"], "batch_size": min(spec.training.batch_size, 4), "loader_workers": 0}
    for variant in data["variants"]:
        if "trials" in variant:
            variant["trials"] = 1
    data["architectures"] = [_small_architecture(a) for a in data["architectures"]]
    data["datasets"] = [_small_dataset(d) for d in data["datasets"]]
    return StudySpec.model_validate(data)


def _small_architecture(architecture: dict[str, Any]) -> dict[str, Any]:
    params = dict(architecture.get("params", {}))
    if architecture["name"] != "smp_unet":
        params["base_channels"] = SMOKE_BASE_CHANNELS
        params["depth"] = min(params.get("depth", 4), 3)
    if params.get("bottleneck_width"):
        params["bottleneck_width"] = max(4, params["bottleneck_width"] // 16)
    return {**architecture, "params": params}


def _small_dataset(dataset: dict[str, Any]) -> dict[str, Any]:
    small = dict(dataset)
    split = small.get("split", {})
    if split.get("folds") and split.get("fold") is None:
        small["split"] = {**split, "fold": 0}
    if small.get("kind") == "synthetic":
        small["image_size"] = min(small.get("image_size", 64), 64)
        small["num_images"] = min(small.get("num_images", 32), 24)
        return small
    if small.get("tile"):
        small["tile"] = max(16, small["tile"] // 4)
        small["resize"] = [2 * small["tile"], 2 * small["tile"]]  # four tiles per image
    elif small.get("resize"):
        height, width = small["resize"]
        scale = min(0.25, SMOKE_SIDE / max(height, width))
        small["resize"] = [max(32, int(height * scale)), max(32, int(width * scale))]
    else:
        small["resize"] = [SMOKE_SIDE, SMOKE_SIDE]
    return small
