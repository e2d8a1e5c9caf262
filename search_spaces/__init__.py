"""Search spaces: one module per space, each a define-by-run function for Optuna.

A space module declares ``PARAMETERS`` (name -> "float" | "int" | "str" |
"bool"), the hyperparameters it may suggest, so every trial row of a study has
the same columns, and ``sample(trial, context)`` which calls
``trial.suggest_*``. ``context`` carries facts about the arm, such as
``bottleneck_channels`` (the upper bound of FREM's B).

A spec names a space by its module name here (``frem``) or by the dotted path
of any importable module (``my_lab.spaces.wide_lr``).
"""

import importlib
import pkgutil
from types import ModuleType
from typing import Any

# The types a space may declare, and the Python type of each (results columns and casts derive from it).
PARAMETER_TYPES = {"float": float, "int": int, "str": str, "bool": bool}


def builtin_spaces() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load_space(name: str) -> ModuleType:
    """Import a space module; raises ``LookupError`` with the known names if absent."""
    module_name = name if "." in name else f"{__name__}.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise LookupError(
                f"unknown search space {name!r}; built in: {', '.join(builtin_spaces())} "
                "(or give the dotted path of an importable module)"
            ) from None
        raise
    for attribute in ("PARAMETERS", "sample"):
        if not hasattr(module, attribute):
            raise LookupError(f"search space {name!r} ({module.__file__}) does not define {attribute}")
    bad = {k: v for k, v in module.PARAMETERS.items() if v not in PARAMETER_TYPES}
    if bad:
        raise LookupError(f"search space {name!r} declares unknown parameter types {bad}; use {tuple(PARAMETER_TYPES)}")
    return module


def fixed_values(space: ModuleType, fixed: dict[str, Any]) -> dict[str, Any]:
    """A spec's ``fixed:`` hyperparameters, each cast to the type its space declares.

    Raises ``ValueError`` naming the first one the space does not declare or that has the wrong type.
    """
    cast = {}
    for name, value in fixed.items():
        declared = space.PARAMETERS.get(name)
        if declared is None:
            raise ValueError(f"fixes {name!r}, which the space does not declare ({', '.join(space.PARAMETERS)})")
        kind = PARAMETER_TYPES[declared]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is float and numeric:
            cast[name] = float(value)
        elif kind is int and numeric and float(value).is_integer():
            cast[name] = int(value)
        elif isinstance(value, kind):
            cast[name] = value
        else:
            raise ValueError(f"fixes {name!r} at {value!r}, but the space declares it a {declared}")
    return cast


class FixedTrial:
    """An Optuna trial seen through fixed hyperparameters: suggesting a fixed name returns its value
    without asking the sampler, so a space module serves both searched and fixed arms unchanged
    (001 §4.3 holds the dropout rate at B/512 instead of searching it)."""

    def __init__(self, trial, fixed: dict[str, Any]):
        self._trial, self._fixed = trial, fixed

    def __getattr__(self, name: str):
        return getattr(self._trial, name)

    def suggest_float(self, name: str, *args, **kwargs):
        return self._fixed[name] if name in self._fixed else self._trial.suggest_float(name, *args, **kwargs)

    def suggest_int(self, name: str, *args, **kwargs):
        return self._fixed[name] if name in self._fixed else self._trial.suggest_int(name, *args, **kwargs)

    def suggest_categorical(self, name: str, *args, **kwargs):
        return self._fixed[name] if name in self._fixed else self._trial.suggest_categorical(name, *args, **kwargs)


def sample(space: ModuleType, trial, context: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any] | None:
    """Run a space on an Optuna trial; the fixed values come back as constants (Ray's OptunaSearch
    adds a define-by-run function's returned dict to the trial's config)."""
    space.sample(FixedTrial(trial, fixed), context)
    return dict(fixed) or None
