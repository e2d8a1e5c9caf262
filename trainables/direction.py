"""Which value of a metric is better: the one place that knows what max and min mean."""

import math
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TypeVar

Item = TypeVar("Item")


def _is_number(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


class Direction(StrEnum):
    """The optimisation direction of a study's metric (the spec's ``mode``)."""

    MAX = "max"
    MIN = "min"

    def better(self, value: float | None, than: float | None) -> bool:
        """True when ``value`` beats ``than``; a NaN or missing value never wins, anything beats none."""
        if not _is_number(value):
            return False
        if not _is_number(than):
            return True
        return value > than if self is Direction.MAX else value < than

    def best_of(self, items: Iterable[Item], key: Callable[[Item], float | None]) -> Item | None:
        """The item with the best key (the first one on ties); None when no key is a number."""
        best = None
        for item in items:
            if best is None and _is_number(key(item)) or best is not None and self.better(key(item), key(best)):
                best = item
        return best

    def best(self, values: Iterable[float | None]) -> float:
        """The best of the values that are numbers; NaN when there are none."""
        chosen = self.best_of(values, key=lambda value: value)
        return math.nan if chosen is None else float(chosen)

    @property
    def ascending(self) -> bool:
        """For sorting with the best value first (pandas ``sort_values(ascending=...)``)."""
        return self is Direction.MIN

    def sort_key(self, value: float | None) -> float:
        """A key that sorts the best value first and NaN last."""
        if not _is_number(value):
            return math.inf
        return -value if self is Direction.MAX else value

    @property
    def aggregate(self) -> str:
        """The pandas aggregation that picks the best value ("max" or "min")."""
        return self.value

    def running_best(self, series):
        """The best value so far along a pandas Series (cumulative max or min)."""
        return series.cummax() if self is Direction.MAX else series.cummin()
