"""The final evaluation of an arm: its best trial's best checkpoint on held-out data.

Runs as a Ray task with a trial worker's resources (on a GPU where trials use
GPUs) once every trial of the arm is recorded, before the arm is marked done,
so an interrupted evaluation is simply redone on resume. The study's process
starts it (``evaluations``) and only records the rows.
"""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import ray

import search_spaces
from orchestrator.results.schema import arm_key
from orchestrator.results.store import read_table
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm
from orchestrator.study.trial_config import trial_config
from trainables.config import Resources, TrialConfig
from trainables.evaluation_task import best_checkpoint, evaluate_checkpoint


def best_trial(study: StudyDir, arm: Arm) -> pd.Series | None:
    """The arm's best finished trial by the study's metric (ties: the lowest trial id), or None."""
    trials = read_table(study.root, "trials", arm.id)
    if trials.empty:
        return None
    scored = trials[(trials["status"] != "failed") & trials["best_metric"].notna()]
    if scored.empty:
        return None
    order = scored.sort_values(["best_metric", "trial_id"], ascending=[study.spec.mode.ascending, True])
    return order.iloc[0]


def sampled_hyperparameters(row: pd.Series, space_name: str) -> dict[str, Any]:
    """The trial's configuration from its ``hp_*`` columns, with the space's declared types."""
    hyper = {}
    for name, kind in search_spaces.load_space(space_name).PARAMETERS.items():
        value = row.get(f"hp_{name}")
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            hyper[name] = search_spaces.PARAMETER_TYPES[kind](value)
    return hyper


@dataclass
class StartedEvaluation:
    """An arm's final evaluation in flight: its Ray task, and what recording its rows takes."""

    arm: Arm
    trial_id: str
    configs: list[TrialConfig]  # the threshold rows', then the arm's own (recorded last)
    task: ray.ObjectRef


def start_evaluation(study: StudyDir, arm: Arm) -> StartedEvaluation | None:
    """Start the evaluation task; None when no trial has a checkpoint to evaluate."""
    row = best_trial(study, arm)
    if row is None:
        return None
    config = trial_config(study, arm)
    run_dir = config.train_run_location(row["trial_id"])
    checkpoint = best_checkpoint(run_dir, config.metric, config.direction, config.evaluation.checkpoint)
    hyper = sampled_hyperparameters(row, arm.variant.space)
    thresholds = config.evaluation.threshold_rows.items()
    # Threshold rows first: the arm's own row, recorded last, is what marks its evaluation done. One
    # task evaluates them all: one model load and one prediction of the images for every row.
    configs = [*(config.threshold_row(name, arm.row_id(name), t) for name, t in thresholds), config]
    task = with_trial_resources(evaluate_checkpoint, config.resources).remote(checkpoint, configs, hyper)
    return StartedEvaluation(arm, row["trial_id"], configs, task)


def record_evaluation(study: StudyDir, started: StartedEvaluation, evaluations: list) -> dict[str, Any]:
    """Write the finished task's rows; returns the arm's own summary row."""
    for row_config, (summary, images) in zip(started.configs, evaluations, strict=True):
        _record(study, row_config, started.trial_id, summary, images)
    return evaluations[-1][0]


def with_trial_resources(function, resources: Resources):
    """``function`` as a Ray task with ``resources`` (one trial worker's: its GPU where trials use GPUs,
    never the driver's CPU). On a GPU its worker exits after the task (``max_calls=1``), handing the
    GPU's memory back to the trials; Ray sets that for GPU tasks only when they are given to
    ``ray.remote`` itself, not to ``.options``. On CPUs an idle worker is reused by the next arm's
    evaluation."""
    return ray.remote(
        num_cpus=resources.cpus_per_worker,
        num_gpus=resources.gpus_per_worker,
        max_calls=1 if resources.use_gpu else 0,  # 0: no limit
        max_retries=1,
    )(function)


def _record(
    study: StudyDir, config: TrialConfig, trial_id: str, summary: dict[str, Any], images: list[dict[str, Any]]
) -> None:
    keys = {**arm_key(config), "trial_id": trial_id}
    summary.update(keys, evaluated_at=dt.datetime.now(dt.UTC))
    study.results.write_evaluation(config.arm_id, trial_id, summary, [{**keys, **image} for image in images])
