"""The model without its deepest level: the learning rate only, as for the baseline."""

from .baseline import PARAMETERS, sample  # noqa: F401
