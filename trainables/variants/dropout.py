"""Dropout with rate ``dropout_p`` on the bottleneck."""

from typing import TYPE_CHECKING, Any, ClassVar

from .base import Bound, Variant

if TYPE_CHECKING:
    from torch import nn


class Dropout(Variant):
    name = "dropout"
    hyperparameters = ("dropout_p",)
    bounds: ClassVar = {"dropout_p": Bound(0.0, 1.0)}
    example: ClassVar = {"dropout_p": 0.1}
    plot_pair = ("lr", "dropout_p")

    def bottleneck_transform(self, channels: int, hyper: dict[str, Any], seed: int) -> "nn.Module":
        from torch import nn

        return nn.Dropout2d(float(hyper["dropout_p"]))


VARIANT = Dropout()
