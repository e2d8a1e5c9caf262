"""Feature Random Enhancement Module on the bottleneck (Ando & Hotta, VISAPP 2021): B channels times X,
re-drawn at every epoch from the trial's seed, in training only."""

from typing import TYPE_CHECKING, Any, ClassVar

from .base import BOTTLENECK, Bound, Variant

if TYPE_CHECKING:
    from ..models.frem import FeatureRandomEnhancement


class Frem(Variant):
    name = "frem"
    hyperparameters = ("frem_b", "frem_x")
    bounds: ClassVar = {"frem_b": Bound(1, BOTTLENECK), "frem_x": Bound(0.0, None, exclusive_low=True)}
    example: ClassVar = {"frem_b": 1, "frem_x": 2.0}
    plot_pair = ("frem_b", "frem_x")
    fixed: ClassVar[bool] = False  # the same channels in every epoch

    def bottleneck_transform(self, channels: int, hyper: dict[str, Any], seed: int) -> "FeatureRandomEnhancement":
        from ..models.frem import FeatureRandomEnhancement

        return FeatureRandomEnhancement(channels, hyper["frem_b"], hyper["frem_x"], seed=seed, fixed=self.fixed)


VARIANT = Frem()
