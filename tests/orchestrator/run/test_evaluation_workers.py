"""Which Ray worker process runs a study's final evaluations: a reused one on CPUs, a fresh one on a GPU."""

import os

import pytest
import ray

from orchestrator.run.final_evaluation import with_trial_resources
from trainables.config import Resources

pytestmark = pytest.mark.ray


def _worker_pid() -> int:
    return os.getpid()


@pytest.fixture(scope="module")
def local_ray_with_a_gpu():
    # One GPU as Ray counts it (a logical resource: no device needed), as a GPU node offers it.
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize(("gpus", "same_worker"), [(0, True), (1, False)])
def test_a_cpu_evaluation_reuses_an_idle_worker_and_a_gpu_one_gets_a_fresh_one(local_ray_with_a_gpu, gpus, same_worker):
    resources = Resources(workers=1, cpus_per_worker=1, gpus_per_worker=gpus, max_failures=0)
    task = with_trial_resources(_worker_pid, resources)
    first = ray.get(task.remote())
    second = ray.get(task.remote())  # the first one's worker is idle by now
    assert (first == second) is same_worker
