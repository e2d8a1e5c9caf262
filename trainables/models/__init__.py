"""Model registry: a study names an architecture and a variant and gets a model.

Architectures are registered in ``ARCHITECTURES`` below; every architecture
takes a ``bottleneck_transform`` and an ``aux_head``, which is how each variant
of ``trainables.variants`` changes it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from torch import nn

from ..variants import get_variant, variants
from .frem import FeatureRandomEnhancement
from .renorm import BatchRenorm2d, with_batch_renorm
from .smp_unet import SmpUNet, smp_bottleneck_channels
from .unet import UNet

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "BatchRenorm2d",
    "FeatureRandomEnhancement",
    "SmpUNet",
    "UNet",
    "architecture_params",
    "bottleneck_channels",
    "build_model",
    "count_parameters",
    "variants",
]


@dataclass(frozen=True)
class Architecture:
    build: Callable[..., nn.Module]
    defaults: dict[str, Any]
    bottleneck_channels: Callable[..., int]
    depth_key: str  # the parameter `no_deep_layers` lowers by one


_UNET_DEFAULTS = {
    "base_channels": 64,
    "depth": 4,
    "upsample": "transpose",
    "conv_bias": False,
    "head_norm": False,
    "gate": "oktay",
    "bottleneck_width": None,
    "norm": "batch",
}
NORMS = ("batch", "batch_renorm")  # batch_renorm: 001 §3.1 (every architecture)


def _unet(**fixed) -> Architecture:
    return Architecture(partial(UNet, **fixed), dict(_UNET_DEFAULTS), UNet.bottleneck_channels, "depth")


ARCHITECTURES: dict[str, Architecture] = {
    "unet": _unet(),
    "attention_unet": _unet(attention=True),
    "advanced_attention_unet": _unet(encoder_attention="advanced"),
    "full_attention_unet": _unet(encoder_attention="full"),
    "se_unet": _unet(block="se"),
    "attention_residual_unet": _unet(block="residual", attention=True),
    "smp_unet": Architecture(
        SmpUNet,
        {
            "encoder": "resnet34",
            "encoder_depth": 5,
            "encoder_weights_path": None,
            "freeze_encoder": False,
            "norm": "batch",
        },
        smp_bottleneck_channels,
        "encoder_depth",
    ),
}


def architecture_params(
    architecture: str, params: dict[str, Any] | None = None, variant: str = "baseline"
) -> dict[str, Any]:
    """The architecture's defaults overridden by ``params`` (and by the variant); raises on unknown keys."""
    if architecture not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    spec = ARCHITECTURES[architecture]
    unknown = set(params or {}) - set(spec.defaults)
    if unknown:
        raise KeyError(
            f"architecture {architecture!r} has no parameter(s) {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(sorted(spec.defaults))}"
        )
    merged = {**spec.defaults, **(params or {})}
    if merged["norm"] not in NORMS:
        raise ValueError(f"architecture {architecture!r}: norm={merged['norm']!r} must be one of {', '.join(NORMS)}")
    return get_variant(variant).architecture_params(merged, spec.depth_key, architecture)


def bottleneck_channels(architecture: str, params: dict[str, Any] | None = None, variant: str = "baseline") -> int:
    merged = architecture_params(architecture, params, variant)
    return ARCHITECTURES[architecture].bottleneck_channels(**merged)


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
    chosen = get_variant(variant)
    hyper = hyper or {}
    missing = [name for name in chosen.hyperparameters if name not in hyper]
    if missing:
        raise KeyError(f"variant {variant!r} needs hyperparameter(s) {', '.join(missing)} from its search space")
    arch_params = architecture_params(architecture, params, variant)
    norm = arch_params.pop("norm")
    channels = ARCHITECTURES[architecture].bottleneck_channels(**arch_params)
    model = ARCHITECTURES[architecture].build(
        in_channels=in_channels,
        num_classes=num_classes,
        bottleneck_transform=chosen.bottleneck_transform(channels, hyper, seed),
        aux_head=chosen.aux_head,
        **arch_params,
    )
    return with_batch_renorm(model) if norm == "batch_renorm" else model


def count_parameters(model: nn.Module, norm_statistics: bool = False, trainable_only: bool = False) -> int:
    """Learned parameters (``trainable_only``: those not frozen); with ``norm_statistics``, also batch
    norm's running mean and variance, as Keras's "Total params" counts them (004 §3.5.1 publishes those)."""
    count = sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    if norm_statistics:
        count += sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return count
