"""Losses. Deep supervision wraps the base loss: (1-λ)·L(final) + λ·L(aux)."""

import torch
from torch.nn import functional as F


def segmentation_loss(output, target: torch.Tensor, ds_lambda: float = 0.0) -> torch.Tensor:
    if isinstance(output, tuple):
        final, aux = output
        return (1 - ds_lambda) * F.cross_entropy(final, target) + ds_lambda * F.cross_entropy(aux, target)
    return F.cross_entropy(output, target)
