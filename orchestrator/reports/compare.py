"""`orchestrate compare`: the arms of one or more studies as one table.

Rows are architecture x variant, columns datasets (and their mean). A cell is
the metric of the arm's final evaluation (default: test mIoU of the best
trial's best checkpoint) as mean ± std over folds and studies (seeds) when
there are several; before an arm is evaluated, `--metric best_metric` shows
the best validation value of its trials. Optional columns: per-class IoU,
a paired test against a baseline arm, published reference numbers, and cost.

The table is built column group by column group (`_metric_columns`,
`_per_class_columns`, `_baseline_columns`, `_reference_columns`,
`_cost_columns`), each appending to one `Table`.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from orchestrator.errors import UserError
from orchestrator.reports.cost import compute_hours
from orchestrator.reports.formatting import NO_VALUE, format_count, format_p, format_value
from orchestrator.reports.references import METRIC_PREFIXES, ReferenceKey, load_references, metric_column
from orchestrator.reports.render import render
from orchestrator.reports.stats import mean_std, paired_wilcoxon
from orchestrator.results.schema import ARM_KEY_NAMES
from orchestrator.results.store import read_table
from orchestrator.study.folder import REFERENCE_FILE, StudyDir
from trainables.direction import Direction

TRIAL_METRICS = ("best_metric", "best_val_miou")
# Test metrics where lower is better; every other test metric is higher-is-better.
LOWER_IS_BETTER = ("loss", "inference_ms", "image_false")
RowKey = tuple[str, str]  # (architecture, variant): one row of the table


@dataclass
class CompareOptions:
    fmt: str = "markdown"
    metric: str | None = None
    per_class: bool = False
    baseline: str | None = None  # VARIANT (same architecture) or ARCHITECTURE:VARIANT
    reference: Path | None = None
    layout: list[str] = field(default_factory=list)  # a paper's columns: test metrics, each beside its published

    def with_study_layout(self, study: StudyDir) -> "CompareOptions":
        """The spec's ``compare:`` columns and published numbers, unless a metric or layout was asked for
        (a metric still gets the study's published numbers beside it)."""
        layout = study.spec.compare
        reference = self.reference or (Path(layout.reference) if layout.reference else None)
        if self.layout:
            return self
        if self.metric is not None:
            return replace(self, reference=reference)
        return replace(self, layout=list(layout.metrics), reference=reference)


@dataclass
class StudyResults:
    """The recorded tables of the studies being compared."""

    studies: list[StudyDir]
    trials: pd.DataFrame
    tests: pd.DataFrame
    images: pd.DataFrame

    @classmethod
    def load(cls, studies: list[StudyDir]) -> "StudyResults":
        roots = [study.root for study in studies]
        return cls(studies, *(read_table(roots, table) for table in ("trials", "tests", "images")))

    @property
    def direction(self) -> Direction:
        directions = {study.spec.mode for study in self.studies}
        if len(directions) > 1:
            raise UserError("these studies optimise in opposite directions (max and min); compare them separately")
        return directions.pop()


@dataclass(frozen=True)
class Metric:
    """The value in the table's cells: a column of the tests table, or of the trials table."""

    column: str
    source: str  # "tests" or "trials"
    direction: Direction


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def add_column(self, header: str, cells: list[str]) -> int:
        """Appends a column (one cell per row); returns its index."""
        self.headers.append(header)
        for row, cell in zip(self.rows, cells, strict=True):
            row.append(cell)
        return len(self.headers) - 1


@dataclass
class _Comparison:
    """What every column group needs: the results, the metric, its per-arm values, rows and datasets."""

    results: StudyResults
    metric: Metric
    values: pd.DataFrame
    row_keys: list[RowKey]
    datasets: list[str]

    def cell(self, key: RowKey, dataset: str, frame: pd.DataFrame | None = None, column: str = "value"):
        """(mean, std, n) of one row on one dataset; NaN when the column was never recorded."""
        mine = _of(self.values if frame is None else frame, key, dataset)
        return mean_std(mine[column]) if column in mine.columns else (math.nan, math.nan, 0)

    def mean(self, key: RowKey, dataset: str) -> float:
        return self.cell(key, dataset)[0]


def _of(frame: pd.DataFrame, key: RowKey, dataset: str | None = None) -> pd.DataFrame:
    """The rows of one table row (architecture, variant), on one dataset if given."""
    selected = (frame["architecture"] == key[0]) & (frame["variant"] == key[1])
    if dataset is not None:
        selected &= frame["dataset"] == dataset
    return frame[selected]


def _direction_of_test_column(column: str) -> Direction:
    return Direction.MIN if any(word in column for word in LOWER_IS_BETTER) else Direction.MAX


def resolve_metric(name: str | None, results: StudyResults) -> Metric:
    """The metric to compare: by default test mIoU, or the trials' best metric before any evaluation."""
    if name is None:
        name = "test_miou" if not results.tests.empty else "best_metric"
    if name in TRIAL_METRICS:
        return Metric(name, "trials", results.direction)
    column = metric_column(name)
    if results.tests.empty or column in results.tests.columns:
        return Metric(column, "tests", _direction_of_test_column(column))
    known = sorted(c for c in results.tests.columns if c.startswith(METRIC_PREFIXES))
    raise UserError(f"unknown metric {name!r}; use one of {', '.join(known + list(TRIAL_METRICS))}")


def _arm_values(results: StudyResults, metric: Metric) -> pd.DataFrame:
    """One value per evaluated (study, arm): the arm key columns and ``value``."""
    if metric.source == "tests":
        frame = results.tests
        if frame.empty or metric.column not in frame.columns:
            return pd.DataFrame(columns=ARM_KEY_NAMES + ["value"])
        return frame[ARM_KEY_NAMES].assign(value=frame[metric.column].astype(float))
    scored = results.trials[results.trials["status"] != "failed"]
    best = scored.groupby(ARM_KEY_NAMES, dropna=False)[metric.column].agg(metric.direction.aggregate)
    return best.rename("value").reset_index()


def _bold_best(table: Table, column_index: int, values: list[float], direction: Direction) -> None:
    best = direction.best(values)
    table.bold |= {(row, column_index) for row, value in enumerate(values) if value == best}


def _row_mean(values: list[float]) -> float:
    return sum(values) / len(values) if not any(map(math.isnan, values)) else math.nan


def _metric_columns(table: Table, comparison: _Comparison) -> None:
    """One column per dataset and, over several datasets, their mean; the best of each in bold."""
    means = {key: [comparison.mean(key, dataset) for dataset in comparison.datasets] for key in comparison.row_keys}
    for offset, dataset in enumerate(comparison.datasets):
        cells = [format_value(*comparison.cell(key, dataset)[:2]) for key in comparison.row_keys]
        index = table.add_column(dataset, cells)
        _bold_best(table, index, [means[key][offset] for key in comparison.row_keys], comparison.metric.direction)
    if len(comparison.datasets) > 1:
        row_means = [_row_mean(means[key]) for key in comparison.row_keys]
        index = table.add_column("mean", [format_value(value) for value in row_means])
        _bold_best(table, index, row_means, comparison.metric.direction)


def _per_class_columns(table: Table, comparison: _Comparison) -> None:
    tests = comparison.results.tests
    for dataset in comparison.datasets:
        mine = tests[tests["dataset"] == dataset]
        for column in [c for c in mine.columns if c.startswith("test_iou_") and mine[c].notna().any()]:
            cells = [format_value(*comparison.cell(key, dataset, tests, column)[:2]) for key in comparison.row_keys]
            table.add_column(f"{dataset} IoU {column.removeprefix('test_iou_')}", cells)


def _parse_baseline(baseline: str, rows: list[RowKey]) -> Callable[[RowKey], RowKey]:
    """A function row -> the baseline row it is compared with."""
    if ":" in baseline:
        architecture, variant = baseline.split(":", 1)
        if (architecture, variant) not in rows:
            raise UserError(
                f"baseline {baseline!r} is not an arm of these studies; use ARCHITECTURE:VARIANT from the table"
            )
        return lambda row: (architecture, variant)
    if not any(variant == baseline for _, variant in rows):
        raise UserError(
            f"baseline {baseline!r} is not a variant of these studies; use a variant name or ARCHITECTURE:VARIANT"
        )
    return lambda row: (row[0], baseline)


def _paired_p(comparison: _Comparison, row: RowKey, base: RowKey, dataset: str, column: str) -> float:
    """Wilcoxon over per-image values (paired by fold and image, averaged over studies), else over folds."""
    images = comparison.results.images

    def per_image(key):
        mine = _of(images, key, dataset)
        return mine.groupby([mine["fold"].fillna(-1), "image"])[column].mean().to_dict()

    if not images.empty and column in images.columns:
        p, pairs = paired_wilcoxon(per_image(row), per_image(base))
        if pairs:
            return p

    def per_fold(key):
        mine = _of(comparison.values, key, dataset)
        return {(s, f): v for s, f, v in zip(mine["study"], mine["fold"].fillna(-1), mine["value"], strict=True)}

    return paired_wilcoxon(per_fold(row), per_fold(base))[0]


def _baseline_cells(comparison: _Comparison, base_of, dataset: str, image_column: str) -> tuple[list, list]:
    differences, p_values = [], []
    for key in comparison.row_keys:
        base = base_of(key)
        if base == key:
            differences.append("baseline")
            p_values.append(NO_VALUE)
            continue
        difference = comparison.mean(key, dataset) - comparison.mean(base, dataset)
        differences.append(NO_VALUE if math.isnan(difference) else f"{difference:+.4f}")
        p_values.append(format_p(_paired_p(comparison, key, base, dataset, image_column)))
    return differences, p_values


def _baseline_columns(table: Table, comparison: _Comparison, baseline: str) -> None:
    """Per dataset: the difference to the baseline row and a paired Wilcoxon p-value."""
    base_of = _parse_baseline(baseline, comparison.row_keys)
    column = comparison.metric.column
    image_column = column if column in comparison.results.images.columns else "test_miou"
    for dataset in comparison.datasets:
        differences, p_values = _baseline_cells(comparison, base_of, dataset, image_column)
        table.add_column(f"{dataset} Δ", differences)
        table.add_column(f"{dataset} p", p_values)
    table.notes.append(
        f"Δ: difference to baseline {baseline}; p: two-sided Wilcoxon signed-rank test over "
        f"per-image {image_column} (paired by image; over folds where images are not recorded)."
    )


def _reference_columns(table: Table, comparison: _Comparison, reference: Path) -> None:
    """Per dataset: the published number and the measured one's difference to it."""
    references = load_references(reference)
    for dataset in comparison.datasets:
        published, differences = _published_cells(comparison, dataset, references)
        table.add_column(f"{dataset} published", published)
        table.add_column(f"{dataset} Δpub", differences)
    table.notes.append(f"published: numbers from {reference.name}; Δpub = measured − published.")


def _published_cells(
    comparison: _Comparison, dataset: str, references: dict[ReferenceKey, float], digits: int = 4
) -> tuple[list[str], list[str]]:
    """Per row: the published number of the comparison's metric, and measured − published."""
    column = comparison.metric.column
    published = [references.get((*key, dataset, column), math.nan) for key in comparison.row_keys]
    measured = [comparison.mean(key, dataset) for key in comparison.row_keys]
    differences = [
        NO_VALUE if math.isnan(p - m) else f"{m - p:+.{digits}f}" for p, m in zip(published, measured, strict=True)
    ]
    return [format_value(value, digits=digits) for value in published], differences


COUNT_COLUMNS = ("parameters", "trainable_parameters", "presence_tp_", "presence_fp_", "presence_fn_", "presence_tn_")


def _digits(column: str) -> int:
    """Decimals of a layout column: parameter and image counts as whole numbers (one decimal for 002 Table
    1's FN and FP, which can be averaged over folds), rates with 4."""
    if column.startswith(COUNT_COLUMNS):
        return 0
    return 1 if column.startswith("image_false") else 4


def _layout_metric_columns(
    table: Table, comparison: _Comparison, dataset: str, references: dict[ReferenceKey, float]
) -> None:
    """One metric of a paper's layout on one dataset: measured, and where published, published and Δ."""
    column = comparison.metric.column
    digits = _digits(column)
    measured = [comparison.mean(key, dataset) for key in comparison.row_keys]
    label = column.removeprefix("test_")
    cells = [format_value(*comparison.cell(key, dataset)[:2], digits=digits) for key in comparison.row_keys]
    index = table.add_column(f"{dataset} {label}", cells)
    _bold_best(table, index, measured, comparison.metric.direction)
    published, differences = _published_cells(comparison, dataset, references, digits)
    if any(cell != NO_VALUE for cell in published):
        table.add_column(f"{dataset} {label} pub", published)
        table.add_column(f"{dataset} {label} Δ", differences)


def _layout_columns(table: Table, comparison: _Comparison, layout: list[str], reference: Path | None) -> None:
    """A paper's table: per dataset, each of its metrics measured, beside the published number and Δ."""
    references = load_references(reference) if reference else {}
    for dataset in comparison.datasets:
        for name in layout:
            metric = resolve_metric(name, comparison.results)
            per_metric = replace(comparison, metric=metric, values=_arm_values(comparison.results, metric))
            _layout_metric_columns(table, per_metric, dataset, references)
    if references:
        source = "the study's reference.csv" if reference.name == REFERENCE_FILE else reference.name
        table.notes.append(f"pub: published numbers ({source}); Δ = measured − published.")


def _cost_cells(comparison: _Comparison, key: RowKey) -> list[str]:
    trials, evaluated = _of(comparison.results.trials, key), _of(comparison.results.tests, key)
    hours, _ = compute_hours(trials)
    parameters = evaluated["parameters"].dropna()
    inference = evaluated["inference_ms"].dropna()
    model_cells = [
        format_count(parameters.mean()) if len(parameters) else NO_VALUE,
        f"{inference.mean():.2f}" if len(inference) else NO_VALUE,
    ]
    if trials.empty:  # a threshold row has no trials of its own: its arm's row carries the cost
        return [model_cells[0], NO_VALUE, NO_VALUE, model_cells[1], NO_VALUE, NO_VALUE]
    wall_minutes = trials["wall_seconds"].fillna(0).sum() / 60
    failed = int((trials["status"] == "failed").sum())
    return [model_cells[0], f"{hours:.3f}", f"{wall_minutes:.1f}", model_cells[1], str(len(trials)), str(failed)]


def _cost_columns(table: Table, comparison: _Comparison) -> str:
    """Parameters, compute hours, wall minutes, inference time, trials and failures; returns the hours unit."""
    per_row = [_cost_cells(comparison, key) for key in comparison.row_keys]
    unit = compute_hours(comparison.results.trials)[1]  # GPU-h as soon as any trial used a GPU
    for offset, header in enumerate(["params", unit, "wall min", "ms/image", "trials", "failed"]):
        table.add_column(header, [cells[offset] for cells in per_row])
    return unit


def _progress_note(studies: list[StudyDir]) -> str:
    notes = []
    for study in studies:
        arms = study.spec.arms()
        done = sum(study.is_done(arm.id) for arm in arms)
        if done < len(arms):
            notes.append(
                f"study {study.spec.name}: {done} of {len(arms)} arms finished (still running or interrupted); "
                "the table shows what is recorded so far"
            )
    return " ".join(notes)


def _budget_note(studies: list[StudyDir]) -> str:
    """Arms searched with different trial budgets are not an equal-budget comparison: say so (001 §4.3)."""
    notes = []
    for study in studies:
        if study.spec.budgets_differ():
            budgets = {arm.variant.key: arm.trials for arm in study.spec.arms()}
            listed = ", ".join(f"{variant} {trials}" for variant, trials in budgets.items())
            notes.append(f"Trial budgets differ between arms in study {study.spec.name} ({listed}).")
    return " ".join(notes)


def _threshold_rows_note(studies: list[StudyDir]) -> str:
    rows = {}
    for study in studies:
        for variant in study.spec.variants:
            for name, threshold in (variant.evaluation.threshold_rows or {}).items():
                rows[name] = f"{name}: {variant.key}'s checkpoint at threshold {threshold:g}"
    return f"Threshold rows ({'; '.join(rows.values())}) have no trials of their own." if rows else ""


def _caption(comparison: _Comparison, notes: list[str], hours_unit: str, layout: bool = False) -> str:
    metric, results = comparison.metric, comparison.results
    if layout:
        what = "Test metrics of each arm's best checkpoint on held-out images, as the columns of the paper's table"
    elif metric.source == "tests":
        name = metric.column.removeprefix("test_").replace("miou", "mIoU")
        what = f"Test {name} of each arm's best checkpoint on held-out images"
    else:
        validated = ", ".join(sorted(results.trials["metric"].dropna().unique()))
        what = f"Best validation {validated} over each arm's trials"
    higher = "higher" if metric.direction is Direction.MAX else "lower"
    caption = [
        f"{what}; mean ± std over folds and studies where there are several; best per column in bold "
        f"({higher} is better).",
        "Classes absent from both truth and prediction have no IoU (NaN) and are left out of means; – marks no value.",
        *notes,
        f"Cost: parameters, {hours_unit} and wall minutes summed over all trials, inference ms per image at batch 1.",
        f"Studies: {', '.join(study.spec.name for study in results.studies)}.",
        _budget_note(results.studies),
        _threshold_rows_note(results.studies),
        _progress_note(results.studies),
    ]
    return " ".join(part for part in caption if part)


def _prepare(results: StudyResults, options: CompareOptions) -> _Comparison:
    metric = resolve_metric(options.metric, results)
    values = _arm_values(results, metric)
    trials = results.trials
    row_keys = sorted(
        {
            *zip(trials["architecture"], trials["variant"], strict=True),
            *zip(values["architecture"], values["variant"], strict=True),
        }
    )
    datasets = sorted({*trials["dataset"].dropna(), *values["dataset"].dropna()})
    return _Comparison(results, metric, values, row_keys, datasets)


def comparison(results: StudyResults, options: CompareOptions) -> tuple[Table, str]:
    """The comparison table and its caption."""
    comparison = _prepare(results, options)
    if not comparison.row_keys:
        return Table(["architecture", "variant"], []), "no finished trials yet"
    table = Table(["architecture", "variant"], [list(key) for key in comparison.row_keys])
    if options.layout:
        _layout_columns(table, comparison, options.layout, options.reference)
    else:
        _metric_columns(table, comparison)
    if options.per_class and comparison.metric.source == "tests":
        _per_class_columns(table, comparison)
    if options.baseline:
        _baseline_columns(table, comparison, options.baseline)
    if options.reference and not options.layout:
        _reference_columns(table, comparison, options.reference)
    hours_unit = _cost_columns(table, comparison)
    return table, _caption(comparison, table.notes, hours_unit, layout=bool(options.layout))


def compare_studies(studies: list[StudyDir], options: CompareOptions = CompareOptions()) -> str:
    table, caption = comparison(StudyResults.load(studies), options)
    return render(table.headers, table.rows, options.fmt, caption, table.bold)
