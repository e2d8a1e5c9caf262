"""Datasets on disk: the project's folder format, importers from published layouts, checks and summaries."""

from orchestrator.datasets.check import DatasetError, check_dataset
from orchestrator.datasets.importers import IMPORTERS, import_dataset
from orchestrator.datasets.summary import summarize
from orchestrator.datasets.writer import write_dataset

__all__ = ["IMPORTERS", "DatasetError", "check_dataset", "import_dataset", "summarize", "write_dataset"]
