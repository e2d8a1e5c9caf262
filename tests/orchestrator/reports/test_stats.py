import math

import pytest

from orchestrator.errors import UserError
from orchestrator.reports.formatting import format_value
from orchestrator.reports.references import load_references
from orchestrator.reports.render import render
from orchestrator.reports.stats import mean_std, paired_wilcoxon


def test_mean_and_sample_std_leave_out_nan():
    mean, std, n = mean_std([0.5, 0.7, math.nan])
    assert (mean, n) == (pytest.approx(0.6), 2) and std == pytest.approx(math.sqrt(0.02))
    assert format_value(*mean_std([0.8])[:2]) == "0.8000" and format_value(math.nan) == "–"
    assert format_value(0.6, 0.1414) == "0.6000 ± 0.1414"


def test_wilcoxon_by_hand():
    # six pairs, every difference positive: the exact two-sided p is 2 / 2**6
    arm = {i: 0.5 + 0.01 * i for i in range(1, 7)}
    base = {i: 0.5 for i in range(1, 7)}
    p, n = paired_wilcoxon(arm, base)
    assert n == 6 and p == pytest.approx(2 / 64)
    assert math.isnan(paired_wilcoxon(base, base)[0])  # no differences: no test
    assert paired_wilcoxon({1: 0.5, 2: 0.6}, {3: 0.5})[1] == 0  # pairs only on shared keys


def test_bold_cells_per_format():
    rows, bold = [["a", "0.9"], ["b", "0.8"]], {(0, 1)}
    assert "| a | **0.9** |" in render(["arm", "x"], rows, "markdown", bold=bold)
    assert r"\textbf{0.9}" in render(["arm", "x"], rows, "latex", bold=bold)
    assert "<td><b>0.9</b></td>" in render(["arm", "x"], rows, "html", bold=bold)
    assert render(["arm", "x"], rows, "csv", bold=bold) == "arm,x\na,0.9\nb,0.8\n"


def test_reference_files(tmp_path):
    good = tmp_path / "ref.csv"
    good.write_text("architecture,variant,dataset,value\nunet,baseline,em,0.8559\n")
    assert load_references(good) == {("unet", "baseline", "em", "test_miou"): 0.8559}
    bad = tmp_path / "bad.csv"
    bad.write_text("architecture,variant,value\nunet,baseline,0.8\n")
    with pytest.raises(UserError, match="row 1 lacks dataset"):
        load_references(bad)
    with pytest.raises(UserError, match="not found"):
        load_references(tmp_path / "missing.csv")
