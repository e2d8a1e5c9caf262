"""Batch renormalization (Ioffe 2017), which 001 §3.1 uses before each ReLU of its U-Nets.

In training, the batch statistics are corrected towards the running ones by
``r = clip(σ_B / σ, 1/r_max, r_max)`` and ``d = clip((μ_B - μ) / σ, -d_max, d_max)``
(no gradient through r and d), so the output does not depend on the batch
alone; in eval it is batch norm with the running statistics. 001 does not give
r_max and d_max; the defaults are the final values of Ioffe 2017 §4 (3 and 5).
"""

import torch
from torch import nn


class BatchRenorm2d(nn.BatchNorm2d):
    def __init__(self, num_features: int, r_max: float = 3.0, d_max: float = 5.0, **kwargs):
        super().__init__(num_features, **kwargs)
        self.r_max, self.d_max = r_max, d_max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        std = (var + self.eps).sqrt()
        running_std = (self.running_var + self.eps).sqrt()
        with torch.no_grad():
            r = (std / running_std).clamp(1 / self.r_max, self.r_max)
            d = ((mean - self.running_mean) / running_std).clamp(-self.d_max, self.d_max)
            count = x.numel() / x.shape[1]
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / max(count - 1, 1), self.momentum)
            self.num_batches_tracked += 1
        normalized = (x - mean[None, :, None, None]) / std[None, :, None, None]
        normalized = normalized * r[None, :, None, None] + d[None, :, None, None]
        return normalized * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def with_batch_renorm(model: nn.Module) -> nn.Module:
    """``model`` with every ``BatchNorm2d`` replaced by a ``BatchRenorm2d`` of the same size (any architecture)."""
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            setattr(model, name, BatchRenorm2d(child.num_features, eps=child.eps, momentum=child.momentum))
        else:
            with_batch_renorm(child)
    return model
