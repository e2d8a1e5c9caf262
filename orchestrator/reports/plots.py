"""`orchestrate plot`: PNG figures of one or more studies (headless, matplotlib Agg).

- ``search_<arm>.png``: for an arm searched over two or more parameters, the
  sampled points of two of them (B vs X for FREM) coloured by the metric;
- ``history.png``: optimisation history per arm (each trial, and the best so far);
- ``learning_curves.png``: validation metric and training loss per epoch of each arm's best trial;
- ``cost.png``: the arms' metric against their compute hours.
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from orchestrator.errors import UserError  # noqa: E402
from orchestrator.reports.cost import compute_hours  # noqa: E402
from orchestrator.results.store import read_table  # noqa: E402
from orchestrator.study.folder import StudyDir  # noqa: E402
from trainables.direction import Direction  # noqa: E402
from trainables.variants import plot_pairs  # noqa: E402


def _log_scale(values: pd.Series) -> bool:
    positive = values[values > 0]
    return len(positive) == len(values) and positive.max() / positive.min() > 20


def _searched_pair(trials: pd.DataFrame) -> tuple[str, str] | None:
    searched = [
        c
        for c in trials.columns
        if c.startswith("hp_")
        and pd.api.types.is_numeric_dtype(trials[c])
        and trials[c].notna().all()
        and trials[c].nunique() > 1
    ]
    for x, y in plot_pairs():
        if f"hp_{x}" in searched and f"hp_{y}" in searched:
            return f"hp_{x}", f"hp_{y}"
    return (searched[0], searched[1]) if len(searched) >= 2 else None


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def search_plot(arm: str, trials: pd.DataFrame, metric: str, out: Path) -> Path | None:
    trials = trials.dropna(axis=1, how="all")
    pair = _searched_pair(trials)
    if pair is None:
        return None
    x, y = pair
    figure, axes = plt.subplots(figsize=(5, 4))
    points = axes.scatter(trials[x], trials[y], c=trials["best_metric"], cmap="viridis", edgecolors="k")
    figure.colorbar(points, label=f"best {metric}")
    axes.set(xlabel=x.removeprefix("hp_"), ylabel=y.removeprefix("hp_"), title=arm)
    for name, values in ((x, "x"), (y, "y")):
        if _log_scale(trials[name]):
            getattr(axes, f"set_{values}scale")("log")
    return _save(figure, out / f"search_{arm}.png")


def history_plot(trials: pd.DataFrame, metric: str, direction: Direction, out: Path) -> Path:
    figure, axes = plt.subplots(figsize=(7, 4))
    for arm, group in trials.groupby("arm"):
        group = group.sort_values("finished_at")
        order = range(1, len(group) + 1)
        line = axes.plot(order, direction.running_best(group["best_metric"]), label=arm)[0]
        axes.scatter(order, group["best_metric"], color=line.get_color(), s=12, alpha=0.6)
    axes.set(xlabel="trial (in order of finishing)", ylabel=metric, title="Optimisation history (line: best so far)")
    axes.legend(fontsize=7)
    return _save(figure, out / "history.png")


def learning_curves_plot(
    trials: pd.DataFrame, epochs: pd.DataFrame, metric: str, direction: Direction, out: Path
) -> Path:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for arm, group in trials.dropna(subset=["best_metric"]).groupby("arm"):
        best = group.sort_values("best_metric", ascending=direction.ascending).iloc[0]
        curve = epochs[(epochs["arm"] == arm) & (epochs["trial_id"] == best["trial_id"])].sort_values("epoch")
        left.plot(curve["epoch"], curve[metric], marker="o", label=arm)
        right.plot(curve["epoch"], curve["train_loss"], marker="o", label=arm)
    left.set(xlabel="epoch", ylabel=metric, title="Best trial per arm: validation")
    right.set(xlabel="epoch", ylabel="train loss", title="Best trial per arm: training loss")
    for axes in (left, right):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(fontsize=7)
    return _save(figure, out / "learning_curves.png")


def cost_plot(trials: pd.DataFrame, tests: pd.DataFrame, direction: Direction, out: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6, 4))
    use_tests = not tests.empty
    unit = "CPU-h"
    for arm, group in trials.groupby("arm"):
        hours, unit = compute_hours(group)
        if use_tests:
            value = tests.loc[tests["arm"] == arm, "test_miou"].mean()
        else:
            value = direction.best(group["best_metric"])
        if not math.isnan(value):
            axes.scatter(hours, value)
            axes.annotate(arm, (hours, value), fontsize=7)
    ylabel = "test mIoU" if use_tests else "best validation metric"
    axes.set(xlabel=f"{unit} (all trials)", ylabel=ylabel, title="Metric against cost")
    return _save(figure, out / "cost.png")


def plot_studies(studies: list[StudyDir], out: Path) -> list[Path]:
    roots = [study.root for study in studies]
    trials, epochs, tests = (read_table(roots, table) for table in ("trials", "epochs", "tests"))
    if trials.empty:
        raise UserError("no finished trials to plot yet; run or resume the study first")
    metric = studies[0].spec.metric
    direction = studies[0].spec.mode
    out.mkdir(parents=True, exist_ok=True)
    written = [search_plot(arm, group, metric, out) for arm, group in trials.groupby("arm")]
    written += [
        history_plot(trials, metric, direction, out),
        learning_curves_plot(trials, epochs, metric, direction, out),
        cost_plot(trials, tests, direction, out),
    ]
    return [path for path in written if path]
