"""`orchestrate compare`: arms of one or more studies as one table.

Rows are architecture x variant, columns are datasets; a cell is the best
validation metric over the arm's finished trials, followed by the number of
finished trials and the summed wall time of each row.
"""

import math
from pathlib import Path

import pandas as pd

from .results import read_table
from .tables import render


def _fmt(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def comparison(trials: pd.DataFrame, mode: str = "max") -> tuple[list[str], list[list[str]], str]:
    if trials.empty:
        return ["architecture", "variant"], [], "no finished trials yet"
    metric_names = sorted(trials["metric"].dropna().unique())
    scored = trials[trials["status"] != "failed"]
    datasets = sorted(trials["dataset"].unique())
    headers = ["architecture", "variant", *datasets, "trials", "failed", "wall min"]
    rows = []
    for (architecture, variant), group in trials.groupby(["architecture", "variant"], sort=True):
        row = [architecture, variant]
        for dataset in datasets:
            cell = scored[(scored["architecture"] == architecture) & (scored["variant"] == variant) & (scored["dataset"] == dataset)]
            best = cell["best_metric"].max() if mode == "max" else cell["best_metric"].min()
            row.append(_fmt(best if len(cell) else None))
        row += [str(len(group)), str(int((group["status"] == "failed").sum())), f"{group['wall_seconds'].fillna(0).sum() / 60:.1f}"]
        rows.append(row)
    studies = ", ".join(sorted(trials["study"].unique()))
    caption = f"Best validation {', '.join(metric_names)} per arm ({'higher' if mode == 'max' else 'lower'} is better); studies: {studies}."
    return headers, rows, caption


def compare_studies(study_roots: list[Path], fmt: str = "markdown", mode: str = "max") -> str:
    headers, rows, caption = comparison(read_table(study_roots, "trials"), mode)
    return render(headers, rows, fmt, caption)
