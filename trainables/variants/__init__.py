"""Variants: what a study compares on every architecture, one module each.

A variant module defines ``VARIANT``, an instance of a small ``Variant``
subclass that overrides only what it changes: the bottleneck transform, an
auxiliary head and its loss weight, or the architecture's parameters. The class
also declares the hyperparameters it needs from its search space, their allowed
ranges (checked before any trial runs), example values (for ``orchestrate
models``) and the pair of parameters plots show. Its default search space is
the module of the same name in ``search_spaces``. Modules here are found
automatically: adding a variant is adding a module here and a search space.
"""

import importlib
import pkgutil
from functools import cache

from .base import COMMON_BOUNDS, Bound, Variant

__all__ = ["COMMON_BOUNDS", "Bound", "Variant", "get_variant", "hyperparameter_bounds", "plot_pairs", "variants"]


@cache
def variants() -> dict[str, Variant]:
    """Every variant by name: ``baseline`` first, then alphabetically."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            variant = importlib.import_module(f"{__name__}.{module.name}").VARIANT
            found[variant.name] = variant
    return dict(sorted(found.items(), key=lambda item: (item[0] != "baseline", item[0])))


def get_variant(name: str) -> Variant:
    """The named variant; raises ``KeyError`` with the known names."""
    if name not in variants():
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(variants())}")
    return variants()[name]


def hyperparameter_bounds() -> dict[str, Bound]:
    """Allowed range of every hyperparameter any variant knows (a name means the same in every space)."""
    bounds = dict(COMMON_BOUNDS)
    for variant in variants().values():
        bounds.update(variant.bounds)
    return bounds


def plot_pairs() -> list[tuple[str, str]]:
    """Pairs of hyperparameters that plots prefer to show against each other, as the variants declare them."""
    return [variant.plot_pair for variant in variants().values() if variant.plot_pair]
