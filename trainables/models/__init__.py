"""Model registry: a study names an architecture and a variant and gets a model.

Architectures are registered in ``ARCHITECTURES`` below: each one's builder here,
its defaults and bottleneck width in ``trainables.architecture_names`` (torch-free,
for the study's checks). Every architecture takes a ``bottleneck_transform`` and
an ``aux_head``, which is how each variant of ``trainables.variants`` changes it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from torch import nn

from ..architecture_names import ARCHITECTURE_FACTS, NORMS, ArchitectureFacts, architecture_params, bottleneck_channels
from ..variants import get_variant, variants
from .frem import FeatureRandomEnhancement
from .renorm import BatchRenorm2d, with_batch_renorm
from .smp_unet import SmpUNet
from .unet import UNet

__all__ = [
    "ARCHITECTURES",
    "NORMS",
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
class Architecture(ArchitectureFacts):
    """An architecture's torch-free facts and what builds it."""

    build: Callable[..., nn.Module]


_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "unet": UNet,
    "attention_unet": partial(UNet, attention=True),
    "advanced_attention_unet": partial(UNet, encoder_attention="advanced"),
    "full_attention_unet": partial(UNet, encoder_attention="full"),
    "se_unet": partial(UNet, block="se"),
    "attention_residual_unet": partial(UNet, block="residual", attention=True),
    "smp_unet": SmpUNet,
}
# What each builds with, from the torch-free facts the study's checks read (architecture_names.py).
ARCHITECTURES: dict[str, Architecture] = {
    name: Architecture(dict(facts.defaults), facts.bottleneck_channels, facts.depth_key, _BUILDERS[name])
    for name, facts in ARCHITECTURE_FACTS.items()
}


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
