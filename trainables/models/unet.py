"""The U-Net family, as one configurable 2D encoder-decoder.

* ``block``: the conv stage at every level: ``plain`` (Ronneberger U-Net with
  batch norm), ``se`` (plus squeeze-and-excitation), ``residual``.
* ``attention``: attention gates on every skip (004 §2.4.5.2, Oktay et al.),
  gated by the next-lower level's output.
* ``upsample``: ``transpose`` (2x2 transposed conv to the level's width),
  ``bilinear`` (+ 1x1 conv), ``nearest`` (no conv: the lower level's channels
  are concatenated as they are, as in 004's models).
* ``conv_bias`` (a bias on convolutions that BN follows), ``head_norm`` (BN
  after the 1x1 head) and ``gate: keras`` (the attention gate of 004's Keras
  code): off by default, on in 004's models.
* ``encoder_attention``: ``advanced`` / ``full`` (Lin, Yang, Shu, Scherer; 000
  "Utilization of Skip Connections"): a decoder level also receives the outputs
  of encoder levels 1-3 that are finer than it, max-pooled and convolved to its
  depth, concatenated with the skip before the attention gate; ``full`` also
  gates each of them ("Full Attention Strategy").

The bottleneck output passes through ``bottleneck_transform`` (identity, FREM,
dropout) and, with ``aux_head=True``, feeds a 1x1-conv deep-supervision head
upsampled to the input size; in training the model then returns
``(final, aux)``, in eval only ``final``.
"""

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..architecture_names import unet_bottleneck_channels
from .blocks import BLOCKS, AttentionGate, BottleneckVariants, conv_bn_relu

UPSAMPLING = ("transpose", "bilinear", "nearest")
ENCODER_LEVELS_SHARED = 3  # encoder levels 1-3 feed every decoder level (advanced / full attention)


class _PooledSkip(nn.Module):
    """Brings a finer encoder output from level ``source`` down to level ``target``: max-pool, then convolve."""

    def __init__(self, source: int, target: int, in_channels: int, channels: int):
        super().__init__()
        if source >= target:
            raise ValueError(f"encoder level {source} is not finer than decoder level {target}")
        self.factor = 2 ** (target - source)
        self.conv = nn.Sequential(*conv_bn_relu(in_channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.max_pool2d(x, self.factor))


def _upsampler(upsample: str, below: int, width: int) -> tuple[nn.Module, int]:
    """The decoder's upsampling of the lower level, and the channels it yields."""
    if upsample == "transpose":
        return nn.ConvTranspose2d(below, width, 2, stride=2), width
    if upsample == "bilinear":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(below, width, 1)), width
    # 004's models (its printed summary, §3.5.1): UpSampling2D with no convolution after it.
    return nn.Upsample(scale_factor=2, mode="nearest"), below


@dataclass(frozen=True)
class _DecoderOptions:
    attention: bool
    encoder_attention: str
    upsample: str
    bias: bool
    gate: str  # the attention gate's style: oktay or keras (004's models)


class _DecoderLevel(nn.Module):
    def __init__(self, level: int, widths: list[int], block, options: "_DecoderOptions"):
        super().__init__()
        self.level = level
        width, below = widths[level], widths[level + 1]
        attention, encoder_attention, upsample = options.attention, options.encoder_attention, options.upsample

        def gate(x_channels: int) -> AttentionGate:
            return AttentionGate(x_channels, below, options.bias, options.gate)

        self.up, up_channels = _upsampler(upsample, below, width)
        sources = []
        if encoder_attention != "none":
            # 000: only encoder levels 1-3 finer than this decoder level, max-pooled to it (none is upsampled).
            sources = [k for k in range(min(ENCODER_LEVELS_SHARED, len(widths) - 1)) if k < level]
        self.sources = sources
        self.extras = nn.ModuleList(_PooledSkip(k, level, widths[k], width) for k in sources)
        skip_channels = width * (1 + len(sources))
        self.full = encoder_attention == "full"
        if self.full:
            self.gates = nn.ModuleList(gate(width) for _ in range(1 + len(sources)))
        else:
            gated = attention or encoder_attention == "advanced"
            self.gate = gate(skip_channels) if gated else None
        self.block = block(skip_channels + up_channels, width)

    def forward(self, x: torch.Tensor, encoder_outputs: list[torch.Tensor], level: int) -> torch.Tensor:
        skips = [encoder_outputs[level]] + [
            extra(encoder_outputs[k]) for k, extra in zip(self.sources, self.extras, strict=True)
        ]
        # The gates take the lower level's output itself (004 §2.4.5.2: g from the next-lower tier).
        if self.full:
            skip = torch.cat([gate(s, x) for gate, s in zip(self.gates, skips, strict=True)], dim=1)
        else:
            skip = torch.cat(skips, dim=1)
            if self.gate is not None:
                skip = self.gate(skip, x)
        return self.block(torch.cat([self.up(x), skip], dim=1))


class UNet(BottleneckVariants):
    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        block: str = "plain",
        attention: bool = False,
        encoder_attention: str = "none",
        upsample: str = "transpose",
        conv_bias: bool = False,
        head_norm: bool = False,
        gate: str = "oktay",
        bottleneck_width: int | None = None,
        bottleneck_transform: nn.Module | None = None,
        aux_head: bool = False,
    ):
        super().__init__()
        if depth < 1:
            raise ValueError(f"U-Net depth={depth} must be at least 1")
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; use one of {', '.join(BLOCKS)}")
        if encoder_attention not in ("none", "advanced", "full"):
            raise ValueError(f"encoder_attention={encoder_attention!r} must be none, advanced or full")
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample={upsample!r} must be one of {', '.join(UPSAMPLING)}")
        conv = functools.partial(BLOCKS[block], bias=conv_bias)
        widths = [base_channels * 2**level for level in range(depth)]
        widths.append(UNet.bottleneck_channels(base_channels, depth, bottleneck_width))
        self.depth = depth
        self.size_multiple = 2**depth
        self.encoder = nn.ModuleList(
            conv(c_in, c_out) for c_in, c_out in zip([in_channels] + widths[:-2], widths[:-1], strict=True)
        )
        self.bottleneck = conv(widths[-2], widths[-1])
        self.bottleneck_transform = bottleneck_transform or nn.Identity()
        self.decoder = nn.ModuleList(
            _DecoderLevel(level, widths, conv, _DecoderOptions(attention, encoder_attention, upsample, conv_bias, gate))
            for level in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        if head_norm:  # 004's models end in a 1x1 conv, BN and the sigmoid (its printed summary, §3.5.1)
            self.head = nn.Sequential(self.head, nn.BatchNorm2d(num_classes))
        self.aux_head = nn.Conv2d(widths[-1], num_classes, 1) if aux_head else None

    bottleneck_channels = staticmethod(unet_bottleneck_channels)

    def logits_and_bottleneck(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = []
        x = images
        for block in self.encoder:
            x = block(x)
            outputs.append(x)
            x = F.max_pool2d(x, 2)
        bottom = self.bottleneck_transform(self.bottleneck(x))
        x = bottom
        for level, decoder_level in zip(reversed(range(self.depth)), self.decoder, strict=True):
            x = decoder_level(x, outputs, level)
        return self.head(x), bottom
