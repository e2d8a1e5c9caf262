import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
# The real datasets sit beside the clone in CI (../shared); a user's clone has none, and those tests skip.
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
needs_shared_datasets = pytest.mark.skipif(
    not SHARED_DATASETS.is_dir(),
    reason=f"real datasets not found at {SHARED_DATASETS} (CI has them beside the clone; a plain clone does not)",
)


# scripts/test.sh runs the suite on two pytest-xdist workers, a module at a time. Most of its time is
# in these modules, each starting real Ray studies; handed out first (the longest to the first
# worker, the next to the second, then whichever is free takes the next), they overlap each other's
# waits instead of ending the run alone. Stable order: every other module keeps its place.
SLOWEST_MODULES_FIRST = (
    "tests/orchestrator/run/test_presets.py",
    "tests/orchestrator/run/test_resume.py",
    "tests/orchestrator/run/test_storage_faults.py",
    "tests/orchestrator/reports/test_reports.py",
    "tests/orchestrator/run/test_end_to_end.py",
    "tests/cluster/test_jobs.py",
    "tests/cluster/test_nodes.py",
    "tests/orchestrator/run/test_object_storage.py",
    "tests/orchestrator/run/test_arm_settings.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: index for index, module in enumerate(SLOWEST_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


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


@pytest.fixture(scope="module")
def s3_bucket():
    """An empty bucket on a moto S3 server started for the module (see tests/orchestrator/run/s3_server.py)."""
    from tests.orchestrator.run.s3_server import s3_bucket_on_a_local_server

    with s3_bucket_on_a_local_server() as s3:
        yield s3
