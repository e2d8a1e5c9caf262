"""The fixed-channel FREM: the same space as ``frem``."""

from .frem import PARAMETERS, sample  # noqa: F401
