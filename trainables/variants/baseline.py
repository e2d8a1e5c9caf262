"""The plain model."""

from .base import Variant

VARIANT = Variant()
