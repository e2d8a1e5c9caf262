"""The Parquet schema of a study's results: every column name and type, in one place.

Every file of a study has the same schema (all hyperparameters of all arms, all
classes of all datasets), so ``pyarrow.dataset.dataset(path)`` reads a whole
table without the project. Bump ``SCHEMA_VERSION`` when a column changes.
"""

from typing import TYPE_CHECKING, Any

import pyarrow as pa

import search_spaces
from trainables.metric_names import CRACK_METRICS, SWEEP_THRESHOLDS, metric_names, threshold_column

if TYPE_CHECKING:
    from trainables.config import TrialConfig

# 3: epochs.lr, epochs.stopped_early, tests.trainable_parameters, presence_subset_accuracy;
# 4: tests.presence_accuracy_mean, test_crack_iou_<source>, trials.startup_seconds, trials.started_at;
# 5: trials.setup_seconds, tests.evaluation_task_id, tests.evaluation_node (the final evaluation runs as a Ray task);
# 6: epochs.node, trials.node (the Ray node that trained them);
# 7: tests.evaluation_worker_id (the study's evaluations share Ray workers)
SCHEMA_VERSION = 7
TABLES = ("trials", "epochs", "tests", "images")
_ARROW_TYPES = {float: pa.float64(), int: pa.int64(), str: pa.string(), bool: pa.bool_()}

Columns = list[tuple[str, pa.DataType]]

# Which arm a row belongs to: every table but epochs starts with these.
ARM_KEY: Columns = [
    ("study", pa.string()),
    ("arm", pa.string()),
    ("dataset", pa.string()),
    ("architecture", pa.string()),
    ("variant", pa.string()),
]

TRIAL_COLUMNS: Columns = ARM_KEY + [
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
    # from Tune starting the trial to its training loop's first line (actors, imports, worker group);
    # null for a trial started by an earlier driver
    ("startup_seconds", pa.float64()),
    ("setup_seconds", pa.float64()),  # the training loop's data loading and model building
    ("workers", pa.int64()),
    ("cpus_per_worker", pa.float64()),
    ("gpus_per_worker", pa.float64()),
    ("node", pa.string()),  # the Ray node id that trained its last epoch
    ("seed", pa.int64()),
    ("package_version", pa.string()),
    ("schema_version", pa.int64()),
    ("started_at", pa.timestamp("us", tz="UTC")),  # when Tune (last) started the trial; null if by another driver
    ("finished_at", pa.timestamp("us", tz="UTC")),
]

EPOCH_COLUMNS: Columns = [
    ("study", pa.string()),
    ("arm", pa.string()),
    ("trial_id", pa.string()),
    ("epoch", pa.int64()),
    ("train_loss", pa.float64()),
    ("val_loss", pa.float64()),
    ("val_miou", pa.float64()),
    ("best_metric", pa.float64()),
    ("lr", pa.float64()),  # the learning rate the epoch trained with (schedules change it)
    ("stopped_early", pa.bool_()),  # the trial's early-stopping rule ended it after this epoch
    ("epoch_seconds", pa.float64()),
    ("node", pa.string()),  # the Ray node id of the worker (rank 0) that trained the epoch
    ("recorded_at", pa.timestamp("us", tz="UTC")),
]

# The arm key of an evaluation row (tests and images tables): which trial, on which split.
EVALUATION_KEY: Columns = ARM_KEY + [
    ("fold", pa.int64()),
    ("trial_id", pa.string()),
    ("eval_split", pa.string()),  # test, or the fold's validation images when there is no test split
]

TEST_COLUMNS: Columns = EVALUATION_KEY + [
    ("checkpoint_epoch", pa.int64()),
    ("images", pa.int64()),
    ("threshold", pa.float64()),  # binary tasks: the foreground threshold applied (fixed or swept); null: argmax
    ("parameters", pa.int64()),
    ("trainable_parameters", pa.int64()),  # fewer than parameters where an encoder is frozen (003 §5.2)
    ("inference_ms", pa.float64()),  # per image (or tile), batch 1, on the evaluating machine
    ("device", pa.string()),
    ("evaluation_task_id", pa.string()),  # the Ray task that evaluated it (never the driver)
    ("evaluation_node", pa.string()),  # the Ray node id it ran on
    ("evaluation_worker_id", pa.string()),  # the Ray worker process: later evaluations reuse an idle one
    ("evaluated_at", pa.timestamp("us", tz="UTC")),
    *[(f"test_{name}", pa.float64()) for name in CRACK_METRICS],
    ("presence_subset_accuracy", pa.float64()),  # 003 §6: images with every defect type judged right
    ("presence_accuracy_mean", pa.float64()),  # 003 §6: the defect types' presence accuracies, averaged
    ("image_false_positives", pa.int64()),
    ("image_false_negatives", pa.int64()),
    *[(threshold_column(t), pa.float64()) for t in SWEEP_THRESHOLDS],
]

IMAGE_COLUMNS: Columns = EVALUATION_KEY + [("image", pa.string())]

# The fixed columns of each table (those that do not depend on the study's classes or hyperparameters).
FIXED_COLUMNS: dict[str, Columns] = {
    "trials": TRIAL_COLUMNS,
    "epochs": EPOCH_COLUMNS,
    "tests": TEST_COLUMNS,
    "images": IMAGE_COLUMNS,
}

# Columns that say which arm a row belongs to, as readers group by them.
ARM_KEY_NAMES = [name for name, _ in ARM_KEY] + ["fold"]


def _metric_columns(prefix: str, class_names: list[str]) -> Columns:
    return [(f"{prefix}{name}", pa.float64()) for name in metric_names(sorted(set(class_names)))]


def _schema(columns: Columns) -> pa.Schema:
    return pa.schema(columns, metadata={"schema_version": str(SCHEMA_VERSION)})


def tests_schema(class_names: list[str], sources: list[str] = ()) -> pa.Schema:
    presence = [
        (f"presence_{kind}_{name}", pa.float64() if kind == "accuracy" else pa.int64())
        for name in sorted(set(class_names))
        for kind in ("accuracy", "tp", "fp", "fn", "tn")
    ]
    per_source = [(f"test_crack_iou_{name}", pa.float64()) for name in sorted(set(sources))]  # 002 Table 2
    return _schema(TEST_COLUMNS + _metric_columns("test_", class_names) + presence + per_source)


def images_schema(class_names: list[str]) -> pa.Schema:
    return _schema(IMAGE_COLUMNS + _metric_columns("test_", class_names))


def trials_schema(hyperparameters: dict[str, str]) -> pa.Schema:
    types = {name: _ARROW_TYPES[search_spaces.PARAMETER_TYPES[kind]] for name, kind in hyperparameters.items()}
    return _schema(TRIAL_COLUMNS + [(f"hp_{name}", types[name]) for name in sorted(types)])


def epochs_schema(class_names: list[str]) -> pa.Schema:
    extra = [column for column in _metric_columns("val_", class_names) if column[0] != "val_miou"]
    return _schema(EPOCH_COLUMNS + extra)


def table_schemas(
    hyperparameters: dict[str, str], class_names: list[str], sources: list[str] = ()
) -> dict[str, pa.Schema]:
    """The four tables' schemas for a study with these hyperparameters (name -> type), classes and image
    sources (the datasets' recorded source datasets)."""
    return {
        "trials": trials_schema(hyperparameters),
        "epochs": epochs_schema(class_names),
        "tests": tests_schema(class_names, sources),
        "images": images_schema(class_names),
    }


def arm_key(config: "TrialConfig") -> dict[str, Any]:
    """The columns that say which arm a row belongs to (``ARM_KEY_NAMES``)."""
    return {
        "study": config.study,
        "arm": config.arm_id,
        "dataset": config.data.name,
        "architecture": config.architecture_key,
        "variant": config.variant_key,
        "fold": config.fold,
    }
