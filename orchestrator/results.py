"""The results store: append-only Parquet, one file per trial (and per trial-epoch).

Layout under ``<study>/results/``::

    trials/<arm>/<trial id>.parquet             one row per finished trial
    epochs/<arm>/<trial id>-e<epoch>.parquet    one row per trial-epoch
    tests/<arm>/<trial id>.parquet              the final evaluation of the arm's best trial
    images/<arm>/<trial id>.parquet             its per-image metrics (for spread and paired tests)
    orphaned/...                                rows of trials a crash made Tune forget

File names are deterministic, and each file is written to a hidden temporary
name and renamed into place, so writing the same row twice (a trial replayed
after a crash) replaces it instead of duplicating it. Every file of a study has
the same schema (all hyperparameters of all arms, all classes of all datasets),
so ``pyarrow.dataset.dataset(path)`` reads a whole table without the project.
"""

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trainables.metrics import CRACK_METRICS, SWEEP_THRESHOLDS, metric_names

SCHEMA_VERSION = 2
TABLES = ("trials", "epochs", "tests", "images")
_ARROW_TYPES = {"float": pa.float64(), "int": pa.int64(), "str": pa.string(), "bool": pa.bool_()}

# Which arm a row belongs to; every table but epochs starts with these.
ARM_KEY_COLUMNS = [
    ("study", pa.string()),
    ("arm", pa.string()),
    ("dataset", pa.string()),
    ("architecture", pa.string()),
    ("variant", pa.string()),
]

TRIAL_COLUMNS = ARM_KEY_COLUMNS + [
    ("search_space", pa.string()),
    ("fold", pa.int64()),
    ("trial_id", pa.string()),
    ("trial_seed", pa.int64()),
    ("status", pa.string()),  # completed | pruned | failed
    ("error", pa.string()),
    ("epochs_completed", pa.int64()),
    ("best_epoch", pa.int64()),
    ("metric", pa.string()),
    ("best_metric", pa.float64()),
    ("best_val_miou", pa.float64()),
    ("last_val_miou", pa.float64()),
    ("wall_seconds", pa.float64()),
    ("workers", pa.int64()),
    ("cpus_per_worker", pa.float64()),
    ("gpus_per_worker", pa.float64()),
    ("seed", pa.int64()),
    ("package_version", pa.string()),
    ("schema_version", pa.int64()),
    ("finished_at", pa.timestamp("us", tz="UTC")),
]

EPOCH_COLUMNS = [
    ("study", pa.string()),
    ("arm", pa.string()),
    ("trial_id", pa.string()),
    ("epoch", pa.int64()),
    ("train_loss", pa.float64()),
    ("val_loss", pa.float64()),
    ("val_miou", pa.float64()),
    ("best_metric", pa.float64()),
    ("epoch_seconds", pa.float64()),
    ("recorded_at", pa.timestamp("us", tz="UTC")),
]


ARM_COLUMNS = ARM_KEY_COLUMNS + [
    ("fold", pa.int64()),
    ("trial_id", pa.string()),
    ("eval_split", pa.string()),  # test, or the fold's validation images when there is no test split
]

TEST_COLUMNS = ARM_COLUMNS + [
    ("checkpoint_epoch", pa.int64()),
    ("images", pa.int64()),
    ("threshold", pa.float64()),  # binary tasks: probability threshold chosen on validation
    ("parameters", pa.int64()),
    ("inference_ms", pa.float64()),  # per image (or tile), batch 1, on the evaluating machine
    ("device", pa.string()),
    ("evaluated_at", pa.timestamp("us", tz="UTC")),
    *[(f"test_{name}", pa.float64()) for name in CRACK_METRICS],
    ("image_false_positives", pa.int64()),
    ("image_false_negatives", pa.int64()),
    *[(f"val_fg_iou_t{round(t * 100):03d}", pa.float64()) for t in SWEEP_THRESHOLDS],
]


def _metric_columns(prefix: str, class_names: list[str]) -> list[tuple[str, pa.DataType]]:
    return [(f"{prefix}{name}", pa.float64()) for name in metric_names(sorted(set(class_names)))]


def tests_schema(class_names: list[str]) -> pa.Schema:
    presence = [(f"presence_{kind}_{name}", pa.float64() if kind == "accuracy" else pa.int64())
                for name in sorted(set(class_names)) for kind in ("accuracy", "tp", "fp", "fn", "tn")]
    return pa.schema(TEST_COLUMNS + _metric_columns("test_", class_names) + presence,
                     metadata={"schema_version": str(SCHEMA_VERSION)})


def images_schema(class_names: list[str]) -> pa.Schema:
    return pa.schema(ARM_COLUMNS + [("image", pa.string())] + _metric_columns("test_", class_names),
                     metadata={"schema_version": str(SCHEMA_VERSION)})


def trials_schema(hyperparameters: dict[str, str]) -> pa.Schema:
    extra = [(f"hp_{name}", _ARROW_TYPES[kind]) for name, kind in sorted(hyperparameters.items())]
    return pa.schema(TRIAL_COLUMNS + extra, metadata={"schema_version": str(SCHEMA_VERSION)})


def epochs_schema(class_names: list[str]) -> pa.Schema:
    extra = [column for column in _metric_columns("val_", class_names) if column[0] != "val_miou"]
    return pa.schema(EPOCH_COLUMNS + extra, metadata={"schema_version": str(SCHEMA_VERSION)})


def _write_atomically(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")  # a leading "." hides it from pyarrow.dataset
    pq.write_table(table, temporary)
    os.replace(temporary, path)


class ResultsStore:
    def __init__(self, root: Path, hyperparameters: dict[str, str], class_names: list[str]):
        self.root = Path(root)
        self.schemas = {
            "trials": trials_schema(hyperparameters),
            "epochs": epochs_schema(class_names),
            "tests": tests_schema(class_names),
            "images": images_schema(class_names),
        }

    def _dir(self, table: str, arm: str) -> Path:
        return self.root / table / arm

    def write_epoch(self, arm: str, trial_id: str, row: dict[str, Any]) -> None:
        table = pa.Table.from_pylist([row], schema=self.schemas["epochs"])
        _write_atomically(table, self._dir("epochs", arm) / f"{trial_id}-e{int(row['epoch']):04d}.parquet")

    def write_trial(self, arm: str, trial_id: str, row: dict[str, Any]) -> None:
        table = pa.Table.from_pylist([row], schema=self.schemas["trials"])
        _write_atomically(table, self._dir("trials", arm) / f"{trial_id}.parquet")

    def write_evaluation(self, arm: str, trial_id: str, summary: dict[str, Any], images: list[dict[str, Any]]) -> None:
        # Images first: an evaluation counts as done once its summary row exists.
        _write_atomically(pa.Table.from_pylist(images, schema=self.schemas["images"]), self._dir("images", arm) / f"{trial_id}.parquet")
        _write_atomically(pa.Table.from_pylist([summary], schema=self.schemas["tests"]), self._dir("tests", arm) / f"{trial_id}.parquet")

    def evaluated(self, arm: str) -> bool:
        return any(self._dir("tests", arm).glob("*.parquet"))

    def recorded_trials(self, arm: str) -> set[str]:
        return {p.stem for p in self._dir("trials", arm).glob("*.parquet")}

    def epochs_of(self, arm: str, trial_id: str) -> list[dict[str, Any]]:
        files = sorted(self._dir("epochs", arm).glob(f"{trial_id}-e*.parquet"))
        return [row for f in files for row in pq.read_table(f).to_pylist()]

    def quarantine(self, arm: str, keep: set[str]) -> list[str]:
        """Move rows of trials not in ``keep`` to ``orphaned/``; returns the moved trial ids."""
        moved = set()
        for table in TABLES:
            for path in self._dir(table, arm).glob("*.parquet"):
                trial_id = path.stem.rsplit("-e", 1)[0] if table == "epochs" else path.stem
                if trial_id not in keep:
                    target = self.root / "orphaned" / table / arm / path.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(path, target)
                    moved.add(trial_id)
        return sorted(moved)


def read_table(study_roots: list[Path] | Path, table: str, arm: str | None = None) -> pd.DataFrame:
    """One table (of one arm, if given) of one or more studies as a DataFrame (schemas unified across studies)."""
    roots = [study_roots] if isinstance(study_roots, Path) else study_roots
    files = [f for root in roots for f in sorted((Path(root) / "results" / table).glob(f"{arm or '*'}/*.parquet"))]
    if not files:
        columns = {"trials": TRIAL_COLUMNS, "epochs": EPOCH_COLUMNS, "tests": TEST_COLUMNS, "images": ARM_COLUMNS}[table]
        return pd.DataFrame(columns=[name for name, _ in columns])
    merged = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    return merged.to_pandas()
