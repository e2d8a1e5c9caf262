"""Model registry: a study names an architecture and a variant and gets a model.

Variants are applied here, once, for every architecture: ``frem`` puts a Feature
Random Enhancement Module on the bottleneck, ``deep_supervision`` adds the
auxiliary head (its loss weight λ lives in the loss, see ``trainables.losses``).
"""

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from .frem import FeatureRandomEnhancement
from .unet import UNet

__all__ = [
    "ARCHITECTURES",
    "VARIANTS",
    "FeatureRandomEnhancement",
    "UNet",
    "bottleneck_channels",
    "build_model",
    "count_parameters",
]


@dataclass(frozen=True)
class Architecture:
    build: Callable[..., nn.Module]
    defaults: dict[str, Any]
    bottleneck_channels: Callable[..., int]


ARCHITECTURES: dict[str, Architecture] = {
    "unet": Architecture(UNet, {"base_channels": 64, "depth": 4}, UNet.bottleneck_channels),
}

# variant name -> the hyperparameters it needs from the trial's sampled config
VARIANTS: dict[str, tuple[str, ...]] = {
    "baseline": (),
    "frem": ("frem_b", "frem_x"),
    "deep_supervision": ("ds_lambda",),
}


def architecture_params(architecture: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The architecture's defaults overridden by ``params``; raises on unknown keys."""
    if architecture not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    spec = ARCHITECTURES[architecture]
    unknown = set(params or {}) - set(spec.defaults)
    if unknown:
        raise KeyError(
            f"architecture {architecture!r} has no parameter(s) {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(sorted(spec.defaults))}"
        )
    return {**spec.defaults, **(params or {})}


def bottleneck_channels(architecture: str, params: dict[str, Any] | None = None) -> int:
    return ARCHITECTURES[architecture].bottleneck_channels(**architecture_params(architecture, params))


def build_model(
    architecture: str,
    variant: str,
    *,
    in_channels: int,
    num_classes: int,
    params: dict[str, Any] | None = None,
    hyper: dict[str, Any] | None = None,
    seed: int = 0,
) -> nn.Module:
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    hyper = hyper or {}
    missing = [name for name in VARIANTS[variant] if name not in hyper]
    if missing:
        raise KeyError(f"variant {variant!r} needs hyperparameter(s) {', '.join(missing)} from its search space")
    arch_params = architecture_params(architecture, params)
    transform = None
    if variant == "frem":
        channels = ARCHITECTURES[architecture].bottleneck_channels(**arch_params)
        transform = FeatureRandomEnhancement(channels, hyper["frem_b"], hyper["frem_x"], seed=seed)
    return ARCHITECTURES[architecture].build(
        in_channels=in_channels,
        num_classes=num_classes,
        bottleneck_transform=transform,
        aux_head=variant == "deep_supervision",
        **arch_params,
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
