"""A plain 2D U-Net (Ronneberger et al. 2015) with batch norm and same-padding convs.

The bottleneck output passes through ``bottleneck_transform`` (identity, FREM,
dropout, ...) and, with ``aux_head=True``, also feeds a 1x1-conv deep-supervision
head upsampled to the input size; in training the model then returns
``(final, aux)``, in eval only ``final``.
"""

import torch
from torch import nn
from torch.nn import functional as F


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        bottleneck_transform: nn.Module | None = None,
        aux_head: bool = False,
    ):
        super().__init__()
        if depth < 1:
            raise ValueError(f"U-Net depth={depth} must be at least 1")
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.depth = depth
        self.encoder = nn.ModuleList()
        channels = in_channels
        for width in widths[:-1]:
            self.encoder.append(conv_block(channels, width))
            channels = width
        self.bottleneck = conv_block(widths[-2], widths[-1])
        self.bottleneck_transform = bottleneck_transform or nn.Identity()
        self.upsamplers = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in reversed(range(depth)):
            self.upsamplers.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.decoder.append(conv_block(2 * widths[level], widths[level]))
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        self.aux_head = nn.Conv2d(widths[-1], num_classes, 1) if aux_head else None

    @staticmethod
    def bottleneck_channels(base_channels: int = 64, depth: int = 4) -> int:
        return base_channels * 2**depth

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.bottleneck_transform, "set_epoch"):
            self.bottleneck_transform.set_epoch(epoch)

    def forward(self, images: torch.Tensor):
        multiple = 2**self.depth
        if images.shape[-2] % multiple or images.shape[-1] % multiple:
            raise ValueError(
                f"U-Net of depth {self.depth} needs height and width divisible by {multiple}; "
                f"got {tuple(images.shape[-2:])}: resize or tile the images"
            )
        skips = []
        x = images
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        bottom = self.bottleneck_transform(self.bottleneck(x))
        x = bottom
        for upsample, block, skip in zip(self.upsamplers, self.decoder, reversed(skips)):
            x = block(torch.cat([upsample(x), skip], dim=1))
        final = self.head(x)
        if self.aux_head is None or not self.training:
            return final
        aux = F.interpolate(self.aux_head(bottom), size=images.shape[-2:], mode="bilinear", align_corners=False)
        return final, aux
