"""The trial's torch backend: the Tune trial actor's side (its Train controller included) stays
torch-free, the workers still get a real process group (gloo across two Ray Train workers)."""

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import ray
import ray.train
from ray.train.v2._internal.callbacks.accelerators import AcceleratorSetupCallback
from ray.train.v2._internal.callbacks.backend_setup import BackendSetupCallback

from tests.conftest import REPO
from trainables.fixed_cluster import FIXED_SIZE_CLUSTER_ENV
from trainables.torch_backend import TrialTorchConfig
from trainables.trial import lean_torch_trainer

CONTROLLER_SIDE = """
import pickle, sys
import ray.train.v2._internal.execution.controller.controller
pickle.loads(sys.stdin.buffer.read())
print("torch" in sys.modules)
"""


def test_the_controller_unpickles_the_trials_backend_without_importing_torch():
    # What the Train controller receives for the backend: the config and the two callbacks that hold it.
    config = TrialTorchConfig(backend="gloo")
    scaling = ray.train.ScalingConfig(num_workers=1)
    payload = pickle.dumps([config, BackendSetupCallback(config), AcceleratorSetupCallback(config, scaling)])
    loaded = subprocess.run(
        [sys.executable, "-c", CONTROLLER_SIDE], input=payload, capture_output=True, check=True
    ).stdout.decode()
    assert loaded.strip() == "False"


TRIAL_ACTOR_SIDE = """
import sys
import ray.train
from trainables.torch_backend import TrialTorchConfig
from trainables.trial import lean_torch_trainer
config = TrialTorchConfig()
lean_torch_trainer()(lambda: None, torch_config=config, scaling_config=ray.train.ScalingConfig(num_workers=1))
print(config.backend, "torch" in sys.modules)
"""


def test_the_trial_actor_builds_its_train_run_without_importing_torch():
    # What the Tune trial actor runs for each trial (trainables.trial.run_trial), in a fresh interpreter.
    built = subprocess.run([sys.executable, "-c", TRIAL_ACTOR_SIDE], capture_output=True, check=True, cwd=REPO)
    assert built.stdout.decode().split() == ["gloo", "False"]  # TorchTrainer's backend for CPU workers


def _all_reduce_ranks() -> None:
    import tempfile

    import ray.train.collective
    import torch
    import torch.distributed as dist

    total = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(total)
    ray.train.collective.barrier()  # Train's own collectives meet at its synchronisation barrier
    rank_zero_says = ray.train.collective.broadcast_from_rank_zero(f"from rank {dist.get_rank()}")
    metrics = {"world_size": dist.get_world_size(), "rank_sum": total.item(), "backend": dist.get_backend()}
    metrics["broadcast"] = rank_zero_says
    store = dist.distributed_c10d._get_default_store()
    while isinstance(store, dist.PrefixStore):
        store = store.underlying_store
    metrics["store"] = type(store).__name__
    with tempfile.TemporaryDirectory() as directory:  # Ray keeps the metrics that come with a checkpoint
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))


@pytest.fixture
def local_ray():
    # marked as the study's own local Ray is (orchestrator/run/ray_session.py): it cannot grow
    fixed_size = {"env_vars": {FIXED_SIZE_CLUSTER_ENV: "1"}}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=fixed_size)
    yield
    ray.shutdown()


@ray.remote(num_cpus=0)
class TrialActor:
    """Stands where Tune's trial actor stands: the process that calls ``fit()`` for a trial."""

    def fit(self, storage_path: str, workers: int) -> tuple[dict, str]:
        trainer = lean_torch_trainer(stopped_mid_run=False)(
            _all_reduce_ranks,
            torch_config=TrialTorchConfig(),
            scaling_config=ray.train.ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 1}),
            run_config=ray.train.RunConfig(name=f"ddp-{workers}", storage_path=storage_path),
        )
        result = trainer.fit()
        return result.metrics, result.checkpoint.path


def _actor_classes() -> list[str]:
    return sorted(actor["ActorClassName"] for actor in ray._private.state.actors().values())


def test_two_workers_get_one_gloo_process_group_from_a_controller_in_the_trial_actor(local_ray, tmp_path):
    metrics, checkpoint = ray.get(TrialActor.remote().fit.remote(str(tmp_path), 2))
    assert metrics["world_size"] == 2 and metrics["rank_sum"] == 3.0 and metrics["backend"] == "gloo"
    assert metrics["broadcast"] == "from rank 0" and checkpoint.startswith(str(tmp_path / "ddp-2"))
    assert metrics["store"] == "TCPStore"  # ranks in other processes, maybe other nodes, meet over TCP
    started = _actor_classes()  # the controller ran in the trial actor: no actor of its own
    assert started.count("RayTrainWorker") == 2 and not [name for name in started if "Controller" in name], started
    assert "_AutoscalingCoordinatorActor" not in started  # nothing to ask for resources on a fixed-size cluster
    assert started.count("SynchronizationActor") == 1  # two workers meet at Ray's own barrier


def test_a_run_of_one_worker_reports_its_checkpoint_without_a_synchronisation_actor(local_ray, tmp_path):
    metrics, checkpoint = ray.get(TrialActor.remote().fit.remote(str(tmp_path), 1))
    assert metrics["world_size"] == 1 and metrics["rank_sum"] == 1.0 and metrics["broadcast"] == "from rank 0"
    assert checkpoint.startswith(str(tmp_path / "ddp-1")) and Path(checkpoint).is_dir()
    started = _actor_classes()
    assert started.count("RayTrainWorker") == 1 and "SynchronizationActor" not in started, started
    assert metrics["store"] == "FileStore"  # no TCP port to lose to another process (EADDRINUSE)
