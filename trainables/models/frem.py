"""Feature Random Enhancement Module (Ando & Hotta, VISAPP 2021)."""

import torch
from torch import nn


class FeatureRandomEnhancement(nn.Module):
    """Multiplies B of the bottleneck's channels by X, in training only.

    The enhanced channels are drawn from a generator seeded by ``(seed, epoch)``,
    so they change at every epoch boundary (``set_epoch``) but not within an
    epoch, and a rerun with the same seed enhances the same channels. With
    ``fixed=True`` the same channels are enhanced in every epoch.
    """

    def __init__(self, channels: int, b: int, x: float, seed: int = 0, fixed: bool = False):
        super().__init__()
        if not 1 <= b <= channels:
            raise ValueError(f"FREM B={b} must be between 1 and the bottleneck's {channels} channels")
        if not x > 0:
            raise ValueError(f"FREM X={x} must be positive")
        self.channels, self.b, self.x = channels, int(b), float(x)
        self.seed, self.fixed = int(seed), fixed
        self.register_buffer("scale", torch.ones(channels), persistent=False)
        self.enhanced_channels: list[int] = []
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        draw = self.seed if self.fixed else self.seed * 1_000_003 + epoch
        generator = torch.Generator().manual_seed(draw)
        chosen = torch.randperm(self.channels, generator=generator)[: self.b]
        scale = torch.ones(self.channels)
        scale[chosen] = self.x
        self.scale.copy_(scale)
        self.enhanced_channels = sorted(chosen.tolist())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return features
        return features * self.scale.view(1, -1, 1, 1).to(features.dtype)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, B={self.b}, X={self.x}, fixed={self.fixed}"
