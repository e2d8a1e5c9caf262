import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
# scripts/test.sh runs the suite on two pytest-xdist workers, grouped by --dist loadgroup: each test
# file is one unit of work (its module fixtures run once), tests/cluster is one (its tests share one Ray
# head, and a second head would rewrite the token in ~/.ray), and the slowest units start first, so
# the short ones fill in beside them instead of one slow file running alone at the end.
SLOWEST_FIRST = [
    "tests/orchestrator/run/test_presets.py",
    "tests/orchestrator/run/test_resume.py",
    "tests/cluster",
    "tests/orchestrator/reports/test_reports.py",
    "tests/orchestrator/run/test_end_to_end.py",
    "tests/orchestrator/run/test_storage_faults.py",
    "tests/orchestrator/run/test_arm_settings.py",
]
# The real datasets sit beside the clone in CI (../shared); a user's clone has none, and those tests skip.
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
needs_shared_datasets = pytest.mark.skipif(
    not SHARED_DATASETS.is_dir(),
    reason=f"real datasets not found at {SHARED_DATASETS} (CI has them beside the clone; a plain clone does not)",
)


def _work_unit(item: pytest.Item) -> str:
    path = item.path.relative_to(REPO).as_posix()
    return "tests/cluster" if path.startswith("tests/cluster/") else path


def _slowness_rank(item: pytest.Item) -> int:
    unit = _work_unit(item)
    return SLOWEST_FIRST.index(unit) if unit in SLOWEST_FIRST else len(SLOWEST_FIRST)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_work_unit(item)))
    items.sort(key=_slowness_rank)  # stable: a file's tests keep their order


def tiny_spec(name: str = "tiny", **overrides) -> dict:
    """A study small enough for a test: 32x32 synthetic cells, a 2-level U-Net with 4 base channels."""
    spec = {
        "name": name,
        "seed": 7,
        "datasets": [{"name": "cells", "kind": "synthetic", "num_images": 16, "image_size": 32}],
        "architectures": [{"name": "unet", "params": {"base_channels": 4, "depth": 2}}],
        "variants": ["baseline", "frem"],
        "budget": {"trials_per_arm": 2, "epochs": 2, "max_concurrent_trials": 2},
        "resources": {"workers": 1, "cpus_per_worker": 1},
        "training": {"batch_size": 4},
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def write_spec(tmp_path):
    def write(spec: dict, filename: str = "spec.yaml") -> Path:
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(spec))
        return path

    return write


def orchestrate(*args, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI in a fresh process, as a user would."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,
    )
