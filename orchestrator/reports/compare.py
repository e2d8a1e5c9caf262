"""`orchestrate compare`: the arms of one or more studies as one table.

Rows are architecture x variant, columns datasets (and their mean). A cell is
the metric of the arm's final evaluation (default: test mIoU of the best
trial's best checkpoint) as mean ± std over folds and studies (seeds) when
there are several; before an arm is evaluated, `--metric best_metric` shows
the best validation value of its trials. Optional columns: per-class IoU,
a paired test against a baseline arm, published reference numbers, and cost.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from orchestrator.errors import UserError
from orchestrator.reports.references import load_references
from orchestrator.results.store import read_table
from orchestrator.reports.stats import format_p, format_value, mean_std, paired_wilcoxon
from orchestrator.study.folder import StudyDir
from orchestrator.reports.render import render

TRIAL_METRICS = ("best_metric", "best_val_miou")
LOWER_IS_BETTER = ("loss", "inference_ms", "image_false")


@dataclass
class CompareOptions:
    fmt: str = "markdown"
    metric: str | None = None
    per_class: bool = False
    baseline: str | None = None  # VARIANT (same architecture) or ARCHITECTURE:VARIANT
    reference: Path | None = None


@dataclass
class StudyTables:
    studies: list[StudyDir]
    trials: pd.DataFrame
    tests: pd.DataFrame
    images: pd.DataFrame

    @classmethod
    def load(cls, studies: list[StudyDir]) -> "StudyTables":
        roots = [study.root for study in studies]
        return cls(studies, *(read_table(roots, table) for table in ("trials", "tests", "images")))

    @property
    def mode(self) -> str:
        modes = {study.spec.mode for study in self.studies}
        if len(modes) > 1:
            raise UserError("these studies optimise in opposite directions (max and min); compare them separately")
        return modes.pop()


def _of(frame: pd.DataFrame, key: tuple[str, str], dataset: str | None = None) -> pd.DataFrame:
    """The rows of one table row (architecture, variant), on one dataset if given."""
    selected = (frame["architecture"] == key[0]) & (frame["variant"] == key[1])
    if dataset is not None:
        selected &= frame["dataset"] == dataset
    return frame[selected]


def resolve_metric(name: str | None, tables: StudyTables) -> tuple[str, str]:
    """(column, table) of the metric to compare."""
    if name is None:
        return ("test_miou", "tests") if not tables.tests.empty else ("best_metric", "trials")
    if name in TRIAL_METRICS:
        return name, "trials"
    column = name if name.startswith("test_") else f"test_{name}"
    if tables.tests.empty or column in tables.tests.columns:
        return column, "tests"
    known = sorted(c for c in tables.tests.columns if c.startswith("test_"))
    raise UserError(f"unknown metric {name!r}; use one of {', '.join(known + list(TRIAL_METRICS))}")


def _arm_values(tables: StudyTables, column: str, source: str, mode: str) -> pd.DataFrame:
    """One value per evaluated (study, arm): columns architecture, variant, dataset, study, fold, value."""
    keys = ["study", "arm", "architecture", "variant", "dataset", "fold"]
    if source == "tests":
        frame = tables.tests
        if frame.empty or column not in frame.columns:
            return pd.DataFrame(columns=keys + ["value"])
        return frame[keys].assign(value=frame[column].astype(float))
    scored = tables.trials[tables.trials["status"] != "failed"]
    best = scored.groupby(keys, dropna=False)[column].agg("max" if mode == "max" else "min")
    return best.rename("value").reset_index()


def _higher_is_better(column: str, mode: str, source: str) -> bool:
    if source == "trials":
        return mode == "max"
    return not any(word in column for word in LOWER_IS_BETTER)


def _parse_baseline(baseline: str, rows: list[tuple[str, str]]):
    """A function row -> the baseline row it is compared with."""
    if ":" in baseline:
        architecture, variant = baseline.split(":", 1)
        if (architecture, variant) not in rows:
            raise UserError(f"baseline {baseline!r} is not an arm of these studies; use ARCHITECTURE:VARIANT from the table")
        return lambda row: (architecture, variant)
    if not any(variant == baseline for _, variant in rows):
        raise UserError(f"baseline {baseline!r} is not a variant of these studies; use a variant name or ARCHITECTURE:VARIANT")
    return lambda row: (row[0], baseline)


def _paired_p(tables: StudyTables, values: pd.DataFrame, row, base, dataset: str, column: str) -> float:
    """Wilcoxon over per-image values (paired by fold and image, averaged over studies), else over folds."""
    images = tables.images

    def per_image(key):
        mine = _of(images, key, dataset)
        return mine.groupby([mine["fold"].fillna(-1), "image"])[column].mean().to_dict()

    if not images.empty and column in images.columns:
        p, pairs = paired_wilcoxon(per_image(row), per_image(base))
        if pairs:
            return p

    def per_fold(key):
        mine = _of(values, key, dataset)
        return {(s, f): v for s, f, v in zip(mine["study"], mine["fold"].fillna(-1), mine["value"])}

    return paired_wilcoxon(per_fold(row), per_fold(base))[0]


def compute_hours(trials: pd.DataFrame) -> tuple[float, str]:
    gpu = trials["gpus_per_worker"].fillna(0) > 0
    per_worker = trials["gpus_per_worker"].where(gpu, trials["cpus_per_worker"]).fillna(1)
    hours = (trials["wall_seconds"].fillna(0) * trials["workers"].fillna(1) * per_worker).sum() / 3600
    return hours, "GPU-h" if gpu.any() else "CPU-h"


def _progress_note(studies: list[StudyDir]) -> str:
    notes = []
    for study in studies:
        arms = study.spec.arms()
        done = sum(study.is_done(arm.id) for arm in arms)
        if done < len(arms):
            notes.append(f"study {study.spec.name}: {done} of {len(arms)} arms finished (still running or interrupted); "
                         "the table shows what is recorded so far")
    return " ".join(notes)


def comparison(tables: StudyTables, options: CompareOptions) -> tuple[list[str], list[list[str]], str, set]:
    mode = tables.mode
    column, source = resolve_metric(options.metric, tables)
    values = _arm_values(tables, column, source, mode)
    trials = tables.trials
    row_keys = sorted({*zip(trials["architecture"], trials["variant"]), *zip(values["architecture"], values["variant"])})
    datasets = sorted({*trials["dataset"].dropna(), *values["dataset"].dropna()})
    if not row_keys:
        return ["architecture", "variant"], [], "no finished trials yet", set()

    def cell(key, dataset, frame=values, col="value"):
        mine = _of(frame, key, dataset)
        return mean_std(mine[col]) if col in mine.columns else (math.nan, math.nan, 0)

    headers = ["architecture", "variant", *datasets]
    means = {key: [cell(key, d)[0] for d in datasets] for key in row_keys}
    rows = [[key[0], key[1], *(format_value(*cell(key, d)[:2]) for d in datasets)] for key in row_keys]
    scored_columns = list(range(2, 2 + len(datasets)))
    if len(datasets) > 1:
        headers.append("mean")
        for row, key in zip(rows, row_keys):
            row_means = means[key]
            means[key].append(sum(row_means) / len(row_means) if not any(map(math.isnan, row_means)) else math.nan)
            row.append(format_value(means[key][-1]))
        scored_columns.append(len(headers) - 1)

    higher = _higher_is_better(column, mode, source)
    bold = set()
    for offset, col in enumerate(scored_columns):
        column_values = [means[key][offset] for key in row_keys]
        finite = [v for v in column_values if not math.isnan(v)]
        if finite:
            best = max(finite) if higher else min(finite)
            bold |= {(i, col) for i, v in enumerate(column_values) if v == best}

    if options.per_class and source == "tests":
        for dataset in datasets:
            mine = tables.tests[tables.tests["dataset"] == dataset]
            for class_column in [c for c in mine.columns if c.startswith("test_iou_") and mine[c].notna().any()]:
                headers.append(f"{dataset} IoU {class_column.removeprefix('test_iou_')}")
                for row, key in zip(rows, row_keys):
                    row.append(format_value(*cell(key, dataset, tables.tests, class_column)[:2]))

    notes = []
    if options.baseline:
        base_of = _parse_baseline(options.baseline, row_keys)
        image_column = column if column in tables.images.columns else "test_miou"
        for dataset in datasets:
            headers += [f"{dataset} Δ", f"{dataset} p"]
            for row, key in zip(rows, row_keys):
                base = base_of(key)
                if base == key:
                    row += ["baseline", "–"]
                    continue
                difference = cell(key, dataset)[0] - cell(base, dataset)[0]
                p = _paired_p(tables, values, key, base, dataset, image_column)
                row += ["–" if math.isnan(difference) else f"{difference:+.4f}", format_p(p)]
        notes.append(f"Δ: difference to baseline {options.baseline}; p: two-sided Wilcoxon signed-rank test over "
                     f"per-image {image_column} (paired by image; over folds where images are not recorded).")

    if options.reference:
        references = load_references(options.reference)
        for dataset in datasets:
            headers += [f"{dataset} published", f"{dataset} Δpub"]
            for row, key in zip(rows, row_keys):
                published = references.get((key[0], key[1], dataset), math.nan)
                measured = cell(key, dataset)[0]
                row += [format_value(published), "–" if math.isnan(published - measured) else f"{measured - published:+.4f}"]
        notes.append(f"published: numbers from {options.reference.name}; Δpub = measured − published.")

    hours_unit = "CPU-h"
    for row, key in zip(rows, row_keys):
        mine, evaluated = _of(trials, key), _of(tables.tests, key)
        hours, hours_unit = compute_hours(mine)
        parameters = evaluated["parameters"].dropna()
        inference = evaluated["inference_ms"].dropna()
        row += [
            _count(parameters.mean()) if len(parameters) else "–",
            f"{hours:.3f}",
            f"{mine['wall_seconds'].fillna(0).sum() / 60:.1f}",
            f"{inference.mean():.2f}" if len(inference) else "–",
            str(len(mine)),
            str(int((mine["status"] == "failed").sum())),
        ]
    headers += ["params", hours_unit, "wall min", "ms/image", "trials", "failed"]

    what = (f"Test {column.removeprefix('test_').replace('miou', 'mIoU')} of each arm's best checkpoint on held-out images"
            if source == "tests" else f"Best validation {', '.join(sorted(trials['metric'].dropna().unique()))} over each arm's trials")
    caption = [
        f"{what}; mean ± std over folds and studies where there are several; best per column in bold "
        f"({'higher' if higher else 'lower'} is better).",
        "Classes absent from both truth and prediction have no IoU (NaN) and are left out of means; – marks no value.",
        *notes,
        f"Cost: parameters, {hours_unit} and wall minutes summed over all trials, inference ms per image at batch 1.",
        f"Studies: {', '.join(study.spec.name for study in tables.studies)}.",
    ]
    progress = _progress_note(tables.studies)
    if progress:
        caption.append(progress)
    return headers, rows, " ".join(caption), bold


def _count(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k"


def compare_studies(studies: list[StudyDir], options: CompareOptions = CompareOptions()) -> str:
    headers, rows, caption, bold = comparison(StudyTables.load(studies), options)
    return render(headers, rows, options.fmt, caption, bold)
