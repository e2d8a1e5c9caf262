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
