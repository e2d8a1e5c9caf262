"""Turning recorded results into tables, statistics and figures: compare, status, plots, references."""

from orchestrator.lazy import lazy_exports

# Names load on first use (PEP 562): the CLI imports the table formats at start-up
# without paying for pandas, scipy and matplotlib.
_MODULE_OF = {
    "CompareOptions": "compare",
    "StudyResults": "compare",
    "compare_studies": "compare",
    "resolve_metric": "compare",
    "compute_hours": "cost",
    "format_count": "formatting",
    "format_p": "formatting",
    "format_value": "formatting",
    "plot_studies": "plots",
    "load_references": "references",
    "FORMATS": "render",
    "render": "render",
    "mean_std": "stats",
    "paired_wilcoxon": "stats",
    "study_status": "status",
}
__all__ = sorted(_MODULE_OF)
__getattr__ = lazy_exports(__name__, _MODULE_OF)
