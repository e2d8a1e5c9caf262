import math

from orchestrator.reports.formatting import format_count, format_p, format_value


def test_values_show_std_only_when_there_is_one():
    assert format_value(0.8) == "0.8000" and format_value(math.nan) == "–"
    assert format_value(0.6, 0.1414) == "0.6000 ± 0.1414"
    assert format_value(0.61234, digits=2) == "0.61"


def test_p_values_and_parameter_counts():
    assert format_p(0.0001) == "<0.001" and format_p(0.03125) == "0.031" and format_p(math.nan) == "–"
    assert format_count(31_402_501) == "31.40M" and format_count(120_962) == "121.0k"
