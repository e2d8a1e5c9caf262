"""Every architecture's name, default parameters and bottleneck width, without torch: the study's
checks read them before anything trains, so `orchestrate run` never loads torch for them (the
models themselves are built by ``trainables.models``)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .smp_encoders import ENCODER_OUT_CHANNELS
from .variants import get_variant


@dataclass(frozen=True)
class ArchitectureFacts:
    defaults: dict[str, Any]
    bottleneck_channels: Callable[..., int]
    depth_key: str  # the parameter `no_deep_layers` lowers by one


def unet_bottleneck_channels(base_channels: int = 64, depth: int = 4, bottleneck_width: int | None = None, **_) -> int:
    """Channels of the deepest layer: ``bottleneck_width`` where set (001 §4.2: 512), else base x 2**depth."""
    if bottleneck_width is not None and bottleneck_width < 1:
        raise ValueError(f"bottleneck_width={bottleneck_width} must be a positive channel count")
    return bottleneck_width or base_channels * 2**depth


def smp_bottleneck_channels(encoder: str = "resnet34", encoder_depth: int = 5, **_) -> int:
    """From a copy of smp's encoder table (trainables/smp_encoders.py): importing smp costs about 4 CPU-s."""
    if encoder not in ENCODER_OUT_CHANNELS:
        raise ValueError(f"unknown smp encoder {encoder!r}; e.g. resnet34, resnet50, efficientnet-b0 (see smp's list)")
    stages = len(ENCODER_OUT_CHANNELS[encoder]) - 1  # the first entry is the input image
    if not isinstance(encoder_depth, int) or not 1 <= encoder_depth <= stages:
        raise ValueError(f"smp_unet: encoder_depth={encoder_depth!r} must be 1 to {stages} ({encoder}'s stages)")
    return ENCODER_OUT_CHANNELS[encoder][encoder_depth]


UNET_DEFAULTS = {
    "base_channels": 64,
    "depth": 4,
    "upsample": "transpose",
    "conv_bias": False,
    "head_norm": False,
    "gate": "oktay",
    "bottleneck_width": None,
    "norm": "batch",
}
SMP_DEFAULTS = {"encoder": "resnet34", "encoder_depth": 5, "encoder_weights_path": None, "freeze_encoder": False}
NORMS = ("batch", "batch_renorm")  # batch_renorm: 001 §3.1 (every architecture)
UNET_FAMILY = (
    "unet",
    "attention_unet",
    "advanced_attention_unet",
    "full_attention_unet",
    "se_unet",
    "attention_residual_unet",
)
ARCHITECTURE_FACTS: dict[str, ArchitectureFacts] = {
    **{name: ArchitectureFacts(UNET_DEFAULTS, unet_bottleneck_channels, "depth") for name in UNET_FAMILY},
    "smp_unet": ArchitectureFacts({**SMP_DEFAULTS, "norm": "batch"}, smp_bottleneck_channels, "encoder_depth"),
}


def architecture_params(
    architecture: str, params: dict[str, Any] | None = None, variant: str = "baseline"
) -> dict[str, Any]:
    """The architecture's defaults overridden by ``params`` (and by the variant); raises on unknown keys."""
    if architecture not in ARCHITECTURE_FACTS:
        raise KeyError(f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURE_FACTS))}")
    facts = ARCHITECTURE_FACTS[architecture]
    unknown = set(params or {}) - set(facts.defaults)
    if unknown:
        raise KeyError(
            f"architecture {architecture!r} has no parameter(s) {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(sorted(facts.defaults))}"
        )
    merged = {**facts.defaults, **(params or {})}
    if merged["norm"] not in NORMS:
        raise ValueError(f"architecture {architecture!r}: norm={merged['norm']!r} must be one of {', '.join(NORMS)}")
    return get_variant(variant).architecture_params(merged, facts.depth_key, architecture)


def bottleneck_channels(architecture: str, params: dict[str, Any] | None = None, variant: str = "baseline") -> int:
    merged = architecture_params(architecture, params, variant)
    return ARCHITECTURE_FACTS[architecture].bottleneck_channels(**merged)
