"""The ``Variant`` base class: the plain model, and the hooks a variant overrides."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the study's checks read variants without torch; only building a model needs it
    from torch import nn

BOTTLENECK = "bottleneck"  # a bound that is the arm's bottleneck channel count


@dataclass(frozen=True)
class Bound:
    """The allowed range of a sampled hyperparameter: [low, high], or (low, high] when ``exclusive_low``."""

    low: float
    high: float | str | None = None  # None: unbounded; BOTTLENECK: the arm's bottleneck channels
    exclusive_low: bool = False

    def upper(self, bottleneck_channels: int) -> float | None:
        return bottleneck_channels if self.high == BOTTLENECK else self.high

    def allows(self, low: float, high: float, bottleneck_channels: int) -> bool:
        upper = self.upper(bottleneck_channels)
        above_low = low > self.low if self.exclusive_low else low >= self.low
        return above_low and (upper is None or high <= upper)

    def describe(self, bottleneck_channels: int) -> str:
        upper = self.upper(bottleneck_channels)
        return f"{'(' if self.exclusive_low else '['}{self.low}, {upper if upper is not None else 'inf'}]"


COMMON_BOUNDS = {"lr": Bound(0.0, None, exclusive_low=True)}  # every space samples the learning rate


class Variant:
    """The plain model. Subclasses set ``name`` and override what they change."""

    name: ClassVar[str] = "baseline"
    hyperparameters: ClassVar[tuple[str, ...]] = ()  # what it needs from the sampled configuration
    bounds: ClassVar[dict[str, Bound]] = {}  # their allowed ranges, checked at validation
    example: ClassVar[dict[str, Any]] = {}  # values that build a model without a search (models, benchmarks)
    plot_pair: ClassVar[tuple[str, str] | None] = None  # the two parameters a search plot shows
    aux_head: ClassVar[bool] = False  # a deep-supervision head on the bottleneck

    def architecture_params(self, params: dict[str, Any], depth_key: str, architecture: str) -> dict[str, Any]:
        """The architecture's parameters under this variant (e.g. one level less)."""
        return params

    def bottleneck_transform(self, channels: int, hyper: dict[str, Any], seed: int) -> "nn.Module | None":
        """A module applied to the bottleneck features, or None."""
        return None

    def aux_weight(self, hyper: dict[str, Any]) -> float:
        """λ in ``(1-λ)·L_final + λ·L_aux`` (0: no auxiliary loss)."""
        return 0.0

    def __repr__(self) -> str:
        return f"Variant({self.name})"
