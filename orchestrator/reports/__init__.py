"""Turning recorded results into tables, statistics and figures: compare, status, plots, references."""

from orchestrator.reports.compare import CompareOptions, StudyResults, compare_studies, resolve_metric
from orchestrator.reports.cost import compute_hours
from orchestrator.reports.formatting import format_count, format_p, format_value
from orchestrator.reports.plots import plot_studies
from orchestrator.reports.references import load_references
from orchestrator.reports.render import FORMATS, render
from orchestrator.reports.stats import mean_std, paired_wilcoxon
from orchestrator.reports.status import study_status

__all__ = [
    "FORMATS",
    "CompareOptions",
    "StudyResults",
    "compare_studies",
    "compute_hours",
    "format_count",
    "format_p",
    "format_value",
    "load_references",
    "mean_std",
    "paired_wilcoxon",
    "plot_studies",
    "render",
    "resolve_metric",
    "study_status",
]
