"""The Tune trainable: one trial = one Ray Train run (Ray's TorchTrainer, as ``lean_torch_trainer`` builds it).

Ray Train V2 cannot be passed to ``tune.Tuner`` directly; the supported pattern
is a Tune function trainable that builds a ``TorchTrainer`` and calls ``fit()``,
with a callback forwarding each ``ray.train.report`` to Tune. Here the run's
Train controller runs inside the Tune trial actor, so that callback is a plain
``ray.tune.report`` (``ReportToTune``) and no queue actor stands between them.
"""

import json
import time
from typing import Any

import ray.train
import ray.tune

from . import storage
from .config import SampledTrial, TrialConfig
from .fixed_cluster import on_a_fixed_size_cluster, without_autoscaling_requests
from .inherited_env import on_the_study_local_ray, train_workers_without_a_runtime_env
from .one_worker_barrier import worker_group_of_one_class
from .torch_backend import TrialTorchConfig


def train_loop_per_worker(loop_config: dict[str, SampledTrial]) -> None:
    """Ray Train's entry point. Ray pickles it by reference, and the Tune trial actor and the Train
    controller import its module: the training loop (models, data, albumentations: seconds of
    imports) loads here, on the workers only."""
    from .train_loop import train_loop_per_worker as run_the_loop

    run_the_loop(loop_config)


def lean_torch_trainer(stopped_mid_run: bool = True) -> type:
    """Ray's ``TorchTrainer``, as a trial runs it, less what a trial does not need.

    - torch in the Tune trial actor (about 2 CPU-s per trial actor on this machine): ``TorchTrainer``
      is a ``DataParallelTrainer`` whose ``__init__`` picks the backend ("nccl" with GPUs, else
      "gloo") and passes Ray's ``TorchConfig``, and its module and that config import torch. This
      class does the same with ``TrialTorchConfig``, which runs Ray's own torch set-up on the
      workers (torch_backend.py).
    - the controller's own actor (``run_controller_here``): Ray's ``TrainController`` runs in the
      process that calls ``fit()``, the Tune trial actor.
    - side actors (each one more process importing Ray, per trial): Ray Data's DatasetManager when
      no Ray Dataset is given (trials load their own images), and the placement-group cleaner
      unless Tune may stop the run mid-way (ASHA): a run that ends by itself, or fails, frees its
      placement group in the controller, and a killed arm driver takes its job's placement groups
      with it.

    Imported here, not at module level: the arm's driver imports this module and never Ray Train's
    controller."""
    from ray.train.v2._internal.callbacks.datasets import DatasetsCallback
    from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

    unneeded = () if stopped_mid_run else (PlacementGroupCleanerCallback,)

    class LeanTorchTrainer(DataParallelTrainer):
        def __init__(self, train_loop_per_worker, *, torch_config: TrialTorchConfig, **options) -> None:
            use_gpu = options["scaling_config"].use_gpu
            torch_config.backend = torch_config.backend or ("nccl" if use_gpu else "gloo")  # as TorchTrainer
            super().__init__(train_loop_per_worker, backend_config=torch_config, **options)

        def _create_default_callbacks(self) -> list:
            callbacks = super()._create_default_callbacks()
            drop = unneeded if self.datasets else (DatasetsCallback, *unneeded)
            return [callback for callback in callbacks if not isinstance(callback, drop)]

        def _initialize_and_run_controller(self, **controller_init_kwargs):
            if ray.get_runtime_context().get_actor_id() is None:  # a driver (a test, a script): Ray's own way
                return super()._initialize_and_run_controller(**controller_init_kwargs)
            return run_controller_here(**controller_init_kwargs)

    return LeanTorchTrainer


def run_controller_here(**controller_init_kwargs):
    """Run Ray Train's controller in this process, as ``DataParallelTrainer`` would in an actor of its own.

    Ray starts that actor (a new Python process importing Ray Train: about 2.4 CPU-s and a second
    of a trial's start-up here) on the caller's node, with the caller's Train settings, and blocks
    on its ``run()``; the Tune trial actor does nothing else meanwhile. Here the same controller
    object runs the same loop on this thread. Its worker group is owned by this process, so when
    Tune ends the trial actor the workers go with it, as they went with the controller's actor.
    Ray's ``TuneReportCallback``, which relays reports from that actor through a queue actor
    (another process per trial), becomes ``ReportToTune``. On the study's own local Ray the scaling
    policy asks no autoscaling coordinator for resources (fixed_cluster.py). A run of one worker
    starts no synchronisation actor either (one_worker_barrier.py)."""
    import asyncio

    from ray.train.v2._internal.execution.controller import TrainController

    class Controller(TrainController):
        worker_group_cls = worker_group_of_one_class()

    if on_a_fixed_size_cluster():
        policy = controller_init_kwargs["scaling_policy"]
        controller_init_kwargs["scaling_policy"] = without_autoscaling_requests(policy)
    controller = Controller(**controller_init_kwargs)
    asyncio.run(controller.run())
    return controller.get_result()


def report_to_tune() -> Any:
    """A Train callback handing each report to Tune (``ray.tune.report``), as Ray's ``TuneReportCallback``
    does through its queue actor: rank 0's metrics, with the checkpoint's path (the checkpoint itself
    is already in storage)."""
    from ray.train.v2.api.callback import UserCallback
    from ray.tune.integration.ray_train import CHECKPOINT_PATH_KEY

    class ReportToTune(UserCallback):
        def after_report(self, run_context, metrics: list[dict], checkpoint) -> None:
            first_worker = dict(metrics[0])
            if checkpoint:
                first_worker[CHECKPOINT_PATH_KEY] = checkpoint.path
            ray.tune.report(first_worker)

    return ReportToTune()


def run_trial(hyper: dict[str, Any], trial: TrialConfig) -> None:
    """Tune calls this with the sampled hyperparameters; ``trial`` is bound by ``tune.with_parameters``."""
    entered_at = time.time()
    trial_id = ray.tune.get_context().get_trial_id()
    resources = trial.resources
    if on_the_study_local_ray():
        train_workers_without_a_runtime_env()
    trainer = lean_torch_trainer(trial.stopped_mid_run)(
        train_loop_per_worker,
        train_loop_config={"trial": SampledTrial(trial, dict(hyper), trial.trial_seed(hyper))},
        torch_config=TrialTorchConfig(),  # Ray's TorchConfig would make the controller import torch too
        scaling_config=ray.train.ScalingConfig(
            num_workers=resources.workers, use_gpu=resources.use_gpu, resources_per_worker=resources.per_worker
        ),
        run_config=ray.train.RunConfig(
            name=trial.train_run_name(trial_id),
            storage_path=trial.train_storage,
            callbacks=[report_to_tune()],
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=1,  # the best by the metric; Ray always keeps the latest too
                checkpoint_score_attribute=trial.metric,
                checkpoint_score_order=trial.direction.value,
            ),
            failure_config=ray.train.FailureConfig(max_failures=resources.max_failures),
        ),
    )
    trainer.fit()
    _write_phases(trial.train_run_location(trial_id), entered_at, time.time())


PHASES_FILE = "phases.json"


def _write_phases(run_dir: str, entered_at: float, fit_returned_at: float) -> None:
    """When the trial function started and when its Train run returned, for benchmarks/run.py's
    breakdown, and the node the trial actor (with the run's controller) ran on."""
    try:
        node = ray.get_runtime_context().get_node_id()
        phases = {"entered_at": entered_at, "fit_returned_at": fit_returned_at, "node": node}
        storage.write_text(storage.join(run_dir, PHASES_FILE), json.dumps(phases))
    except OSError:
        pass  # a measurement only: never fail a trial over it
