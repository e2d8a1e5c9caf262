"""Datasets on disk: the project's folder format, importers from published layouts, checks and summaries."""

from .check import DatasetError, check_dataset
from .importers import IMPORTERS, import_dataset
from .summary import summarize

__all__ = ["IMPORTERS", "DatasetError", "check_dataset", "import_dataset", "summarize"]
