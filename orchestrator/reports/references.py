"""Published numbers to print beside measured ones (`orchestrate compare --reference FILE`).

A CSV (or YAML list) with columns ``architecture, variant, dataset, value``
and optionally ``source``; ``value`` in the units of the compared metric
(mIoU as a fraction: 0.8559, not 85.59). ``architecture`` is the study's
architecture key (its ``label`` when it has one).
"""

import csv
import math
from pathlib import Path

import yaml

from orchestrator.errors import UserError

REQUIRED = ("architecture", "variant", "dataset", "value")


def load_references(path: Path) -> dict[tuple[str, str, str], float]:
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
        references[(str(row["architecture"]), str(row["variant"]), str(row["dataset"]))] = value
    return references
