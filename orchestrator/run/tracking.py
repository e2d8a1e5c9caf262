"""Experiment trackers researchers already use, through Ray Tune's own logger callbacks.

``tracking: {tensorboard: true}`` writes TensorBoard event files in each trial's folder of the arm's
Tune experiment (``<study>/arms/<arm>/<trial>/events.out.tfevents.*``; ``tensorboard --logdir
<study>/arms``); ``tracking: {mlflow: URI}`` logs every trial as an MLflow run (a local ``file:``
store or a tracking server), in an experiment named after the study, tagged with its arm.
"""

import os

from orchestrator.study.spec import Arm, StudySpec


def tracker_callbacks(spec: StudySpec, arm: Arm) -> list:
    """Ray Tune's logger callbacks for the arm's trackers (Tune loads here: in the arm's driver only)."""
    callbacks: list = []
    if spec.tracking.tensorboard:
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    if spec.tracking.mlflow:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        _allow_file_store(spec.tracking.mlflow)
        callbacks.append(
            MLflowLoggerCallback(
                tracking_uri=spec.tracking.mlflow, experiment_name=spec.name, tags={"arm": arm.id, "study": spec.name}
            )
        )
    return callbacks


def create_study_experiment(spec: StudySpec) -> None:
    """Create the study's MLflow experiment once, before its arms start: arms run at once, each in a
    process of its own, and two of them creating the same experiment race (one fails with
    RESOURCE_ALREADY_EXISTS)."""
    if not spec.tracking.mlflow:
        return
    import mlflow

    _allow_file_store(spec.tracking.mlflow)
    client = mlflow.MlflowClient(tracking_uri=spec.tracking.mlflow)
    if client.get_experiment_by_name(spec.name) is None:
        client.create_experiment(spec.name)


def _allow_file_store(uri: str) -> None:
    if uri.startswith("file:"):
        # MLflow 3 refuses its file store unless told that it is wanted (it is in maintenance mode).
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
