"""Building blocks shared by the U-Net family."""

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3, bias: bool = False) -> list[nn.Module]:
    """A conv (bias only where asked: BN follows; 004's Keras models have one) - BN - ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=bias),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class PlainBlock(nn.Sequential):
    """Two 3x3 conv-BN-ReLU (Ronneberger U-Net with batch norm)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__(
            *conv_bn_relu(in_channels, out_channels, bias=bias), *conv_bn_relu(out_channels, out_channels, bias=bias)
        )


class SqueezeExcitation(nn.Module):
    """Channel re-weighting by a squeezed global context (Hu et al. 2018)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SEBlock(nn.Sequential):
    """A plain conv stage followed by a squeeze-and-excitation block."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__(PlainBlock(in_channels, out_channels, bias), SqueezeExcitation(out_channels))


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a 1x1-conv-BN shortcut, then ReLU (004 §2.4.5.3, §3.5.1)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn_relu(in_channels, out_channels, bias=bias),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=bias), nn.BatchNorm2d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


GATE_STYLES = ("oktay", "keras")


class AttentionGate(nn.Module):
    """The attention gate of 004 §2.4.5.2 (Oktay et al. 2018).

    ``x`` (a skip connection) goes through a 2x2 strided convolution down to the resolution of ``g``,
    the gating signal from the next-lower level; ``g`` through a 1x1 convolution; their sum through
    ReLU, a 1x1 convolution to one channel and a sigmoid gives the attention coefficients, upsampled
    to ``x``'s size (bilinear: the 2D form of the text's trilinear interpolation); the output is ``x``
    times the coefficients. As in Oktay's code, ``g`` is first a 1x1 conv-BN-ReLU of the lower level
    and the gated output passes a 1x1 conv-BN; the intermediate width is half of x's channels.
    ``style="keras"`` is the gate of 004's Keras models, which its parameter counts (§3.5.1) need:
    the intermediate width is x's channels and g's branch also passes a 3x3 transposed convolution.
    """

    def __init__(self, x_channels: int, below_channels: int, bias: bool = False, style: str = "oktay"):
        super().__init__()
        if style not in GATE_STYLES:
            raise ValueError(f"gate={style!r} must be one of {', '.join(GATE_STYLES)}")
        inter = x_channels if style == "keras" else max(1, x_channels // 2)
        self.gating = nn.Sequential(*conv_bn_relu(below_channels, inter, kernel=1, bias=bias))
        self.theta_x = nn.Conv2d(x_channels, inter, 2, stride=2)
        self.phi_g = nn.Conv2d(inter, inter, 1)
        self.upsample_g = nn.ConvTranspose2d(inter, inter, 3, padding=1) if style == "keras" else nn.Identity()
        self.psi = nn.Conv2d(inter, 1, 1)
        self.result = nn.Sequential(nn.Conv2d(x_channels, x_channels, 1, bias=bias), nn.BatchNorm2d(x_channels))

    def forward(self, x: torch.Tensor, below: torch.Tensor) -> torch.Tensor:
        g = self.upsample_g(self.phi_g(self.gating(below)))
        coefficients = torch.sigmoid(self.psi(F.relu(self.theta_x(x) + g)))
        coefficients = F.interpolate(coefficients, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.result(x * coefficients)


def pad_to_multiple(images: torch.Tensor, multiple: int) -> torch.Tensor:
    """Mirror-pads height and width (bottom and right) up to the next multiple of ``multiple``."""
    height, width = images.shape[-2:]
    pad_height, pad_width = -height % multiple, -width % multiple
    if not pad_height and not pad_width:
        return images
    mode = "reflect" if pad_height < height and pad_width < width else "replicate"
    return F.pad(images, (0, pad_width, 0, pad_height), mode=mode)


class BottleneckVariants(nn.Module):
    """What every architecture shares: inputs of any size, the bottleneck transform's
    epoch (FREM re-draws its channels) and the deep-supervision output.

    Subclasses set ``size_multiple`` (2**depth) and implement ``logits_and_bottleneck``.
    """

    bottleneck_transform: nn.Module
    aux_head: nn.Module | None
    size_multiple: int

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.bottleneck_transform, "set_epoch"):
            self.bottleneck_transform.set_epoch(epoch)

    def logits_and_bottleneck(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, images: torch.Tensor):
        """``final`` in eval or without an aux head; ``(final, aux)`` in training with one.

        Images whose sides are not a multiple of ``size_multiple`` (000's crack photos are 386x256)
        are mirror-padded to the next one and the outputs cropped back, so every size works.
        """
        height, width = images.shape[-2:]
        padded = pad_to_multiple(images, self.size_multiple)
        final, bottom = self.logits_and_bottleneck(padded)
        final = final[..., :height, :width]
        if self.aux_head is None or not self.training:
            return final
        aux = F.interpolate(self.aux_head(bottom), size=padded.shape[-2:], mode="bilinear", align_corners=False)
        return final, aux[..., :height, :width]


BLOCKS = {"plain": PlainBlock, "se": SEBlock, "residual": ResidualBlock}
