import os
import subprocess
import sys

import pytest

from orchestrator.run.ray_session import fixed_size_env
from tests.conftest import REPO
from trainables.fixed_cluster import FIXED_SIZE_CLUSTER_ENV, on_a_fixed_size_cluster


def test_only_a_ray_the_study_starts_itself_is_marked_as_one_that_cannot_grow(monkeypatch):
    monkeypatch.setenv(FIXED_SIZE_CLUSTER_ENV, "0")  # restored (unset) after the test
    cluster = "10.0.0.5:6379"
    assert fixed_size_env(cluster) == {} and fixed_size_env("auto") == {}  # a cluster may autoscale
    assert fixed_size_env(None) == {FIXED_SIZE_CLUSTER_ENV: "1"}  # the study process starts a local Ray
    assert os.environ[FIXED_SIZE_CLUSTER_ENV] == "1" and on_a_fixed_size_cluster()  # its arm drivers inherit it
    assert fixed_size_env(cluster) == {FIXED_SIZE_CLUSTER_ENV: "1"}  # an arm driver joining that Ray passes it on


LIST_THE_LOCAL_RAYS_PROCESSES = """
import sys
from pathlib import Path
import ray
from orchestrator.run.ray_session import ray_session
with ray_session(None, Path(sys.argv[1]), dashboard=False):
    print(" ".join(sorted(ray._private.worker._global_node.all_processes)))
"""


@pytest.mark.ray
def test_a_local_ray_starts_without_a_log_monitor_or_an_autoscaler_monitor(tmp_path):
    started = subprocess.run(
        [sys.executable, "-c", LIST_THE_LOCAL_RAYS_PROCESSES, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    processes = started.stdout.split()
    assert {"gcs_server", "raylet"} <= set(processes) and not {"log_monitor", "monitor"} & set(processes), processes
