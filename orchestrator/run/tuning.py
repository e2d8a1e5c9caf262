"""One arm = one Ray Tune experiment searched by Optuna TPE.

The trainable knows nothing of the searcher: it receives the sampled
hyperparameters as its config and the arm's fixed settings via
``tune.with_parameters``.
"""

import functools
from typing import Any

import ray
from optuna.samplers import TPESampler
from ray import tune
from ray._raylet import RAY_NODE_ID_KEY
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search.optuna import OptunaSearch

import search_spaces
from orchestrator.run.optuna_storage import TUNE_TRIAL_ID, defer_tell, optuna_storage
from orchestrator.study.checks import fixed_hyperparameters, space_context
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm, StudySpec
from trainables.config import TrialConfig
from trainables.inherited_env import on_the_study_local_ray, trial_actors_without_a_runtime_env
from trainables.seeding import derive_seed
from trainables.trial import run_trial


class StudyOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna the truth about unfinished trials.

    Ray tells Optuna COMPLETE with the last value for trials stopped early by
    ASHA and for trials that errored after reporting; TPE would then learn
    from truncated values. Here they are PRUNED and FAIL, and told only once
    the trial's Parquet row is written.
    """

    def __init__(self, *args, epochs: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._epochs = epochs

    def suggest(self, trial_id: str) -> dict | None:
        config = super().suggest(trial_id)
        if trial_id in self._ot_trials:  # the Parquet tables' trial id, for optuna.load_study users
            self._ot_trials[trial_id].set_user_attr(TUNE_TRIAL_ID, trial_id)
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        truncated = result and result.get("epoch", self._epochs) < self._epochs and not result.get("stopped_early")
        step, value = (result or {}).get(TRAINING_ITERATION), (result or {}).get(self.metric)
        if step is not None and value is not None and trial_id in self._ot_trials and not error:
            # Tune hands a trial's last result here, not to on_trial_result: record it as the last
            # intermediate value, which a PRUNED trial is valued at.
            ot_trial = self._ot_trials[trial_id]
            if step not in ot_trial.storage.get_trial(ot_trial._trial_id).intermediate_values:
                ot_trial.report(value, step)
        if error or truncated:
            result = None  # -> FAIL if error, else PRUNED (Optuna keeps its intermediate values)
        # Told once the trial's row is written (orchestrator.run.optuna_storage): the rows come first.
        defer_tell(trial_id, functools.partial(super().on_trial_complete, trial_id, result=result, error=error))


def _sample(space_name: str, context: dict[str, Any], fixed: dict[str, Any], trial) -> dict[str, Any] | None:
    return search_spaces.sample(search_spaces.load_space(space_name), trial, context, fixed)


def trainable_for(config: TrialConfig):
    """The trial, on this (the arm driver's) node. The trial actor only drives a TorchTrainer (its
    workers hold the CPUs and GPUs) and hosts the run's Train controller, which Ray pins to the
    driver's node: a lost worker node then only costs Train a worker it restarts from the last
    checkpoint, never the trial (Tune does not retry trials: a failed one stays failed)."""
    trainable = tune.with_parameters(run_trial, trial=config)
    here = [{RAY_NODE_ID_KEY: ray.get_runtime_context().get_node_id()}]
    return tune.with_resources(
        trainable, tune.PlacementGroupFactory([{"CPU": 0, "memory": 64 * 1024**2}], bundle_label_selector=here)
    )


def _scheduler(spec: StudySpec) -> TrialScheduler:
    if spec.scheduler != "asha":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="epoch",
        metric=spec.metric,
        mode=spec.mode.value,
        max_t=spec.budget.epochs,
        grace_period=min(spec.asha.grace_period, spec.budget.epochs),
        reduction_factor=spec.asha.reduction_factor,
    )


def _without_callback_usage_tag() -> None:
    """Ray Tune tags which of its logger callbacks a run uses, for Ray's usage statistics, by importing
    each integration it knows to compare class names (``ray.air._internal.usage.tag_callbacks``):
    where MLflow is installed (the ``tracking`` extra) that is ``import mlflow``, about 1 CPU-s in
    every arm's driver, for a tag. The tag is left out; the callbacks run as before."""
    from ray.air._internal import usage

    usage.tag_callbacks = lambda callbacks: False


def _tune_as_this_study_runs_it() -> None:
    """Ray Tune less a callback usage tag and, on the study's own local Ray, trial actors' runtime envs."""
    _without_callback_usage_tag()
    if on_the_study_local_ray():
        trial_actors_without_a_runtime_env()


def new_tuner(
    study: StudyDir,
    arm: Arm,
    config: TrialConfig,
    callbacks: list[tune.Callback],
    max_concurrent: int,
    trainable=None,
    samples: int | None = None,
    context: dict[str, Any] | None = None,
) -> tune.Tuner:
    """The arm's experiment, with at most ``max_concurrent`` trials in flight (its share of the study's cap).

    ``context``: the arm's ``space_context``, when the caller has it (the arm's driver is given it, so
    it never imports the models to work it out). ``samples``: trials to run (default the arm's budget;
    less when earlier trials are kept).
    ``trainable`` replaces the trial (a Ray Train run) only in benchmarks of the driver's own cost."""
    spec = study.spec
    _tune_as_this_study_runs_it()
    searcher = StudyOptunaSearch(
        space=functools.partial(_sample, arm.variant.space, context or space_context(arm), fixed_hyperparameters(arm)),
        metric=spec.metric,
        mode=spec.mode.value,
        # constant_liar: trials running at once are told to TPE as if they had a bad value, so it
        # spreads them out instead of sampling the same region several times.
        sampler=TPESampler(seed=derive_seed(spec.seed, "sampler", arm.id), constant_liar=max_concurrent > 1),
        storage=optuna_storage(study.root),
        study_name=arm.id,
        epochs=spec.budget.epochs,
    )
    return tune.Tuner(
        trainable or trainable_for(config),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=_scheduler(spec),
            num_samples=samples or arm.trials,
            max_concurrent_trials=max_concurrent,
            # The arm's next trial runs in the Tune trial actor the last one used: no new process, no
            # imports. Not with ASHA: a trial it stops is still inside its Train run, the actor cannot
            # be reset, and Ray fails the next trial given to it.
            reuse_actors=not spec.stops_trials_mid_run,
        ),
        run_config=tune.RunConfig(
            name=arm.id,
            storage_path=str(study.arms_dir),
            callbacks=callbacks,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),  # a failed trial (e.g. NaN loss) stays failed
        ),
    )


def restore_tuner(study: StudyDir, arm: Arm, config: TrialConfig) -> tune.Tuner:
    """Continue an arm: TPE keeps its whole history; unfinished trials resume from their checkpoints."""
    _tune_as_this_study_runs_it()
    return tune.Tuner.restore(
        str(study.arm_dir(arm.id)),
        trainable=trainable_for(config),
        resume_unfinished=True,
        resume_errored=False,
        restart_errored=False,
    )


def can_restore(study: StudyDir, arm: Arm) -> bool:
    return study.arm_dir(arm.id).is_dir() and tune.Tuner.can_restore(str(study.arm_dir(arm.id)))
