"""The study's MLflow experiment exists before its arms, which run at once, start logging to it."""

import multiprocessing

from orchestrator.run.tracking import create_study_experiment
from orchestrator.study.spec import StudySpec
from tests.conftest import tiny_spec


def _arm_sets_up_mlflow(uri: str, name: str) -> str:
    # what each arm's MLflowLoggerCallback does when its Tune run starts
    from ray.air._internal.mlflow import _MLflowLoggerUtil

    util = _MLflowLoggerUtil()
    util.setup_mlflow(tracking_uri=uri, experiment_name=name, create_experiment_if_not_exists=True)
    return util.experiment_id


def test_arms_starting_at_once_share_the_study_experiment(tmp_path, monkeypatch):
    uri = f"file:{tmp_path / 'mlruns'}"
    spec = StudySpec.model_validate(tiny_spec("tracked", tracking={"mlflow": uri}))
    create_study_experiment(spec)
    create_study_experiment(spec)  # a resumed study finds it
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    with multiprocessing.get_context("spawn").Pool(4) as arms:
        experiment_ids = arms.starmap(_arm_sets_up_mlflow, [(uri, "tracked")] * 4)
    assert len(set(experiment_ids)) == 1

    from mlflow import MlflowClient

    experiments = MlflowClient(tracking_uri=uri).search_experiments()
    assert sorted(e.name for e in experiments if e.name != "Default") == ["tracked"]
