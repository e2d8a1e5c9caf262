"""The Tune trainable: one trial = one Ray Train run (TorchTrainer).

Ray Train V2 cannot be passed to ``tune.Tuner`` directly; the supported pattern
is a Tune function trainable that builds a ``TorchTrainer`` and calls ``fit()``,
with ``TuneReportCallback`` forwarding each ``ray.train.report`` to Tune.
"""

from typing import Any

import ray.train
import ray.tune
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from .seeding import derive_seed
from .train_loop import train_loop_per_worker


def trial_seed(arm: dict[str, Any], config: dict[str, Any]) -> int:
    """The trial's training seed: from the study seed, the arm and the sampled configuration
    (Tune's trial ids are random, so they cannot be part of it)."""
    return derive_seed(arm["seed"], arm["arm"], sorted(config.items()))


def run_trial(config: dict[str, Any], arm: dict[str, Any]) -> None:
    trial_id = ray.tune.get_context().get_trial_id()
    resources = arm["resources"]
    use_gpu = resources["gpus_per_worker"] > 0
    per_worker = {"CPU": resources["cpus_per_worker"]}
    if use_gpu:
        per_worker["GPU"] = resources["gpus_per_worker"]
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "hyper": dict(config),
            "arm": arm,
            "seed": trial_seed(arm, config),
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=resources["workers"], use_gpu=use_gpu, resources_per_worker=per_worker
        ),
        run_config=ray.train.RunConfig(
            # A deterministic name: a restarted trial finds its own checkpoints.
            name=f"{arm['arm']}__{trial_id}",
            storage_path=arm["train_storage"],
            callbacks=[TuneReportCallback()],
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=1,  # the best by the metric; Ray always keeps the latest too
                checkpoint_score_attribute=arm["metric"],
                checkpoint_score_order=arm["mode"],
            ),
            failure_config=ray.train.FailureConfig(max_failures=arm["max_failures"]),
        ),
    )
    trainer.fit()
