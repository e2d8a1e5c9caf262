"""How numbers appear in tables: metric values (mean ± std), p-values and parameter counts; – marks no value."""

import math

NO_VALUE = "–"


def format_value(mean: float, std: float = math.nan, digits: int = 4) -> str:
    if math.isnan(mean):
        return NO_VALUE
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_p(p: float) -> str:
    if math.isnan(p):
        return NO_VALUE
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_count(value: float) -> str:
    """A parameter count as 1.23M or 456.7k."""
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k"
