"""Turning recorded results into tables, statistics and figures: compare, status, plots, references."""

import importlib

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


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
