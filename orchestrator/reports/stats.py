"""Summaries of repeated measurements (folds, seeds) and paired tests between arms."""

import math
import warnings

import numpy as np


def mean_std(values) -> tuple[float, float, int]:
    """Mean, sample standard deviation (NaN for one value) and count of the non-NaN values."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not clean:
        return math.nan, math.nan, 0
    std = float(np.std(clean, ddof=1)) if len(clean) > 1 else math.nan
    return float(np.mean(clean)), std, len(clean)


def paired_wilcoxon(arm: dict, baseline: dict) -> tuple[float, int]:
    """Two-sided Wilcoxon signed-rank p-value over the keys both sides have (NaN when it cannot be computed)."""
    from scipy.stats import wilcoxon

    keys = sorted(k for k in arm.keys() & baseline.keys() if not (math.isnan(arm[k]) or math.isnan(baseline[k])))
    differences = np.array([arm[k] - baseline[k] for k in keys])
    if len(keys) < 2 or not np.any(differences):
        return math.nan, len(keys)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small samples: scipy warns that the normal approximation is rough
        return float(wilcoxon(differences).pvalue), len(keys)
