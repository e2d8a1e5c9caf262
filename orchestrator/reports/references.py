"""Published numbers to print beside measured ones (`orchestrate compare --reference FILE`).

A CSV (or YAML list) with columns ``architecture, variant, dataset, value``
and optionally ``metric`` (a test metric such as ``miou`` or ``iou_membrane``;
default ``miou``) and ``source``; ``value`` in the units of the metric (mIoU
as a fraction: 0.8559, not 85.59; counts as counts). ``architecture`` and
``variant`` are the study's keys (their ``label`` when they have one).
"""

import csv
import math
from pathlib import Path

import yaml

from orchestrator.errors import UserError

REQUIRED = ("architecture", "variant", "dataset", "value")
DEFAULT_METRIC = "test_miou"
ReferenceKey = tuple[str, str, str, str]  # architecture, variant, dataset, tests-table column
METRIC_PREFIXES = ("test_", "image_false", "presence_")  # the tests-table columns that are metrics
_COST_COLUMNS = ("inference_ms", "parameters", "trainable_parameters")


def metric_column(name: str) -> str:
    """``miou`` -> ``test_miou``; names of other tests-table columns stay as they are."""
    return name if name.startswith(METRIC_PREFIXES + _COST_COLUMNS) else f"test_{name}"


def load_references(path: Path) -> dict[ReferenceKey, float]:
    if not path.is_file():
        raise UserError(f"reference file {path} not found; give a CSV with columns {', '.join(REQUIRED)}")
    if path.suffix in (".yaml", ".yml"):
        rows = yaml.safe_load(path.read_text()) or []
    else:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    references = {}
    for number, row in enumerate(rows, start=1):
        missing = [column for column in REQUIRED if not isinstance(row, dict) or row.get(column) in (None, "")]
        if missing:
            raise UserError(f"{path}: row {number} lacks {', '.join(missing)}; every row needs {', '.join(REQUIRED)}")
        try:
            value = float(row["value"])
        except ValueError:
            raise UserError(
                f"{path}: row {number}: value {row['value']!r} is not a number; write e.g. 0.8559"
            ) from None
        if math.isnan(value):
            continue
        metric = metric_column(str(row.get("metric") or DEFAULT_METRIC))
        references[(str(row["architecture"]), str(row["variant"]), str(row["dataset"]), metric)] = value
    return references
