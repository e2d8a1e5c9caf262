"""Encoder U-Nets from segmentation-models-pytorch (resnet34/50/101, efficientnet-b0..b7, ...).

Weights never download: ``encoder_weights=None`` always, and an optional local
file (a state dict of the encoder) is loaded instead.
"""

import torch
from torch import nn

from ..architecture_names import smp_bottleneck_channels
from .blocks import BottleneckVariants


def freeze_except_batch_norm(encoder: nn.Module) -> None:
    """003 §5.2.4: "the weights of this model encoder are frozen during training ... only the remaining
    parameters in the decoder part are trained", with Keras segmentation_models 1.0.1, whose freeze
    leaves BatchNormalization layers trainable. Fig. 62 confirms it: ResNet-101's trainable count
    exceeds ResNet-50's by 52,224, the scale and shift of the batch norms in its 17 extra blocks."""
    for module in encoder.modules():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm):
            for parameter in module.parameters(recurse=False):
                parameter.requires_grad_(False)


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

        smp_bottleneck_channels(encoder, encoder_depth)  # validates the name and the depth
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
        if freeze_encoder:
            freeze_except_batch_norm(self.model.encoder)
        self.depth = encoder_depth
        self.size_multiple = 2**encoder_depth
        self.bottleneck_transform = bottleneck_transform or nn.Identity()
        channels = self.model.encoder.out_channels[-1]
        self.aux_head = nn.Conv2d(channels, num_classes, 1) if aux_head else None

    def logits_and_bottleneck(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.encoder(images)
        features[-1] = bottom = self.bottleneck_transform(features[-1])
        return self.model.segmentation_head(self.model.decoder(features)), bottom
