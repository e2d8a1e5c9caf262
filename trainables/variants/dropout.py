"""Dropout with rate ``dropout_p`` on the bottleneck."""

from typing import Any, ClassVar

from torch import nn

from .base import Bound, Variant


class Dropout(Variant):
    name = "dropout"
    hyperparameters = ("dropout_p",)
    bounds: ClassVar = {"dropout_p": Bound(0.0, 1.0)}
    example: ClassVar = {"dropout_p": 0.1}
    plot_pair = ("lr", "dropout_p")

    def bottleneck_transform(self, channels: int, hyper: dict[str, Any], seed: int) -> nn.Module:
        return nn.Dropout2d(float(hyper["dropout_p"]))


VARIANT = Dropout()
