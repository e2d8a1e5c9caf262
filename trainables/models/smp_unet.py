"""Encoder U-Nets from segmentation-models-pytorch (resnet34/50/101, efficientnet-b0..b7, ...).

Weights never download: ``encoder_weights=None`` always, and an optional local
file (a state dict of the encoder) is loaded instead.
"""

import torch
from torch import nn

from .blocks import BottleneckVariants


def smp_bottleneck_channels(encoder: str = "resnet34", encoder_depth: int = 5, **_) -> int:
    import segmentation_models_pytorch as smp

    if encoder not in smp.encoders.encoders:
        raise ValueError(f"unknown smp encoder {encoder!r}; e.g. resnet34, resnet50, efficientnet-b0 (see smp's list)")
    return smp.encoders.encoders[encoder]["params"]["out_channels"][encoder_depth]


class SmpUNet(BottleneckVariants):
    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        encoder: str = "resnet34",
        encoder_depth: int = 5,
        encoder_weights_path: str | None = None,
        freeze_encoder: bool = False,
        bottleneck_transform: nn.Module | None = None,
        aux_head: bool = False,
    ):
        super().__init__()
        import segmentation_models_pytorch as smp

        smp_bottleneck_channels(encoder, encoder_depth)  # validates the name
        self.model = smp.Unet(
            encoder_name=encoder,
            encoder_weights=None,
            encoder_depth=encoder_depth,
            decoder_channels=(256, 128, 64, 32, 16)[:encoder_depth],
            in_channels=in_channels,
            classes=num_classes,
        )
        if encoder_weights_path:
            self.model.encoder.load_state_dict(torch.load(encoder_weights_path, map_location="cpu"))
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:  # 003 §5.2: only the decoder is trained
            self.model.encoder.requires_grad_(False)
        self.depth = encoder_depth
        self.size_multiple = 2**encoder_depth
        self.bottleneck_transform = bottleneck_transform or nn.Identity()
        channels = self.model.encoder.out_channels[-1]
        self.aux_head = nn.Conv2d(channels, num_classes, 1) if aux_head else None

    def train(self, mode: bool = True) -> "SmpUNet":
        """A frozen encoder stays in eval mode: its batch norm keeps its statistics too (as Keras freezes it)."""
        super().train(mode)
        if self.freeze_encoder:
            self.model.encoder.eval()
        return self

    def logits_and_bottleneck(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.encoder(images)
        features[-1] = bottom = self.bottleneck_transform(features[-1])
        return self.model.segmentation_head(self.model.decoder(features)), bottom
