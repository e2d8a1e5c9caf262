"""One arm = one Ray Tune experiment searched by Optuna TPE.

The trainable knows nothing of the searcher: it receives the sampled
hyperparameters as its config and the arm's fixed settings via
``tune.with_parameters``.
"""

import functools
from typing import Any

from optuna.samplers import TPESampler
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

import search_spaces
from trainables.seeding import derive_seed
from trainables.trial import run_trial

from .spec import Arm
from .study import StudyDir
from .validate import data_seed, space_context


class StudyOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna the truth about unfinished trials.

    Ray tells Optuna COMPLETE with the last value for trials stopped early by
    ASHA and for trials that errored after reporting; TPE would then learn
    from truncated values. Here they are PRUNED and FAIL.
    """

    def __init__(self, *args, epochs: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._epochs = epochs

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if error or (result and result.get("epoch", self._epochs) < self._epochs):
            result = None  # -> FAIL if error, else PRUNED (Optuna keeps its intermediate values)
        super().on_trial_complete(trial_id, result=result, error=error)


def _sample(space_name: str, context: dict[str, Any], trial) -> None:
    search_spaces.load_space(space_name).sample(trial, context)


def arm_payload(study: StudyDir, arm: Arm) -> dict[str, Any]:
    """Everything a trial of this arm needs besides its sampled hyperparameters."""
    spec = study.spec
    return {
        "study": spec.name,
        "arm": arm.id,
        "seed": spec.seed,
        # The data split depends on the dataset only: every arm sees the same split.
        "dataset": {**arm.dataset.model_dump(), "seed": data_seed(spec, arm.dataset), "split": study.split(arm.dataset, arm.fold)},
        "architecture": arm.architecture.name,
        "arch_params": dict(arm.architecture.params),
        "variant": arm.variant.name,
        "epochs": spec.budget.epochs,
        "batch_size": spec.training.batch_size,
        "mixed_precision": spec.training.mixed_precision,
        "augmentation": spec.training.augmentation,
        "stochastic_width": spec.training.stochastic_width,
        "loss": spec.training.loss,
        "focal_gamma": spec.training.focal_gamma,
        "fold": arm.fold,
        "loader_workers": spec.training.loader_workers,
        "metric": spec.metric,
        "mode": spec.mode,
        "resources": spec.resources.model_dump(),
        "max_failures": spec.resources.max_failures,
        "train_storage": str(study.train_dir),
    }


def trainable_for(study: StudyDir, arm: Arm):
    trainable = tune.with_parameters(run_trial, arm=arm_payload(study, arm))
    # The trial itself only drives a TorchTrainer; its workers hold the CPUs and GPUs.
    return tune.with_resources(trainable, {"CPU": 0, "memory": 64 * 1024**2})


def new_tuner(study: StudyDir, arm: Arm, callbacks: list[tune.Callback]) -> tune.Tuner:
    spec = study.spec
    searcher = StudyOptunaSearch(
        space=functools.partial(_sample, arm.variant.space, space_context(arm)),
        metric=spec.metric,
        mode=spec.mode,
        sampler=TPESampler(seed=derive_seed(spec.seed, "sampler", arm.id)),
        epochs=spec.budget.epochs,
    )
    if spec.scheduler == "asha":
        scheduler = ASHAScheduler(
            time_attr="epoch",
            metric=spec.metric,
            mode=spec.mode,
            max_t=spec.budget.epochs,
            grace_period=min(spec.asha.grace_period, spec.budget.epochs),
            reduction_factor=spec.asha.reduction_factor,
        )
    else:
        scheduler = FIFOScheduler()
    return tune.Tuner(
        trainable_for(study, arm),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=spec.budget.trials_per_arm,
            max_concurrent_trials=spec.budget.max_concurrent_trials,
        ),
        run_config=tune.RunConfig(
            name=arm.id,
            storage_path=str(study.arms_dir),
            callbacks=callbacks,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),  # a failed trial (e.g. NaN loss) stays failed
        ),
    )


def restore_tuner(study: StudyDir, arm: Arm) -> tune.Tuner:
    """Continue an arm: TPE keeps its whole history; unfinished trials resume from their checkpoints."""
    return tune.Tuner.restore(
        str(study.arm_dir(arm.id)),
        trainable=trainable_for(study, arm),
        resume_unfinished=True,
        resume_errored=False,
        restart_errored=False,
    )


def can_restore(study: StudyDir, arm: Arm) -> bool:
    return study.arm_dir(arm.id).is_dir() and tune.Tuner.can_restore(str(study.arm_dir(arm.id)))
