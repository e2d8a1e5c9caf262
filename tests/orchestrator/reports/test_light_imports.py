"""`orchestrate status` and `compare` read Parquet and print: they start without Ray, Tune or torch."""

import json
import subprocess
import sys

from tests.conftest import REPO

IMPORT_WHAT_STATUS_AND_COMPARE_IMPORT = """
import json, sys
from orchestrator.reports.compare import CompareOptions, compare_studies
from orchestrator.reports.status import study_status
from orchestrator.study.remote import opened_studies
print(json.dumps(sorted(name for name in ("ray", "torch", "optuna") if name in sys.modules)))
"""


def test_status_and_compare_load_no_ray_torch_or_optuna():
    imported = subprocess.run(
        [sys.executable, "-c", IMPORT_WHAT_STATUS_AND_COMPARE_IMPORT], capture_output=True, check=True, cwd=REPO
    )
    assert json.loads(imported.stdout) == []
