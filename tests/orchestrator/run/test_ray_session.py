"""The local Ray a study starts for itself: which processes it runs, and the mark that it cannot grow."""

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
import os, sys
from pathlib import Path
import ray
from orchestrator.run.ray_session import ray_session
from trainables.fixed_cluster import FIXED_SIZE_CLUSTER_ENV
with ray_session(None, Path(sys.argv[1]), dashboard=False):
    print(" ".join(sorted(ray._private.worker._global_node.all_processes)))
    print(ray.get(ray.remote(lambda: os.environ.get(FIXED_SIZE_CLUSTER_ENV, "unset")).remote()))
    address = os.environ["RAY_ADDRESS"]
    names = ("RAY_ADDRESS", "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "PL_DISABLE_FORK")
    seen = lambda: [ray.get_runtime_context().runtime_env, [os.environ.get(name) for name in names]]
    print(ray.get(ray.remote(seen).remote()) == [{}, [address, "0.2", "1"]])
print("RAY_ADDRESS" in os.environ)
"""


@pytest.mark.ray
def test_a_local_ray_starts_without_its_monitors_and_tells_its_workers_it_cannot_grow(tmp_path):
    started = subprocess.run(
        [sys.executable, "-c", LIST_THE_LOCAL_RAYS_PROCESSES, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    processes, worker_sees, inherits, address_left_set = started.stdout.splitlines()
    processes = set(processes.split())
    assert {"gcs_server", "raylet"} <= processes and not {"log_monitor", "monitor"} & processes, processes
    assert worker_sees == "1"  # a Ray worker of the study: Train's scaling policy asks no autoscaler there
    # It sees the study's environment without a runtime env (trainables/inherited_env.py), and the
    # address it was given leaves with the session: a later local start in the process is not sent there.
    assert inherits == "True" and address_left_set == "False"
