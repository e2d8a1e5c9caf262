"""Deep supervision: a 1x1-conv head on the bottleneck, upsampled to the input, trained on
``(1-λ)·L_final + λ·L_aux`` with λ = ``ds_lambda``."""

from typing import Any, ClassVar

from .base import Bound, Variant


class DeepSupervision(Variant):
    name = "deep_supervision"
    hyperparameters = ("ds_lambda",)
    bounds: ClassVar = {"ds_lambda": Bound(0.0, 1.0)}
    example: ClassVar = {"ds_lambda": 0.5}
    plot_pair = ("lr", "ds_lambda")
    aux_head = True

    def aux_weight(self, hyper: dict[str, Any]) -> float:
        return float(hyper["ds_lambda"])


VARIANT = DeepSupervision()
