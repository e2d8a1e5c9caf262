"""The local Ray a study starts for itself: its processes inherit the study's environment.

An actor or task given a runtime env, even one of environment variables only, starts through
Ray's setup_worker.py: a Python process that imports Ray and then execs the worker, 0.33 s more
per worker start on 2 cores. Tune gives every trial actor one (``PL_DISABLE_FORK`` and the
Tune and Train variables of the driver's environment), Ray Train every worker (the Train
variables of the controller's), and the study every process of its arms' jobs (``RAY_ENV``).
On the study's own local Ray its process sets them all before Ray starts: the raylet, and so
every worker, inherits them, and the runtime envs would only repeat them. A cluster's other
nodes inherit nothing from the study: there every runtime env stays.
"""

import os

# The address of the local Ray a study's process started, in the environment of every process of it.
STUDY_LOCAL_RAY_ENV = "ORCHESTRATE_STUDY_LOCAL_RAY"


def on_the_study_local_ray() -> bool:
    return bool(os.environ.get(STUDY_LOCAL_RAY_ENV))


def trial_actors_without_a_runtime_env() -> None:
    """In an arm's driver: Tune's trial actors start with no runtime env of Tune's making."""
    from ray.tune.execution import class_cache

    class_cache.DEFAULT_ENV_VARS = {}  # PL_DISABLE_FORK: in the study's environment (ray_session.RAY_ENV)
    class_cache.ENV_VARS_TO_PROPAGATE = set()


def train_workers_without_a_runtime_env() -> None:
    """In a trial's actor (where its Train controller runs): Train's workers get only the runtime env
    the run asks for (none), not one repeating the Train variables of the controller's environment."""
    from ray.train.v2._internal.execution.worker_group.worker_group import WorkerGroup

    WorkerGroup._get_worker_runtime_env = staticmethod(lambda custom_runtime_env: dict(custom_runtime_env))
