"""What an arm's Tune experiment makes its driver import: not every integration Ray knows."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, tiny_spec

# An arm's experiment as its driver runs it (the study's Optuna searcher and the recorder among its
# callbacks), with a stand-in trial that reports once: the driver's imports are what is measured.
RUN_AN_ARM = """
import json, sys, tempfile
import ray
from ray import tune
from orchestrator.run.recorder import ResultsRecorder
from orchestrator.run.tuning import new_tuner
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import StudySpec
from orchestrator.study.trial_config import trial_config

def stand_in(hyper):
    tune.report({"epoch": 1, "val_loss": 0.5, "val_miou": 0.5, "best_metric": 0.5, "best_epoch": 1})

spec = StudySpec.model_validate(json.loads(sys.argv[1]))
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
with tempfile.TemporaryDirectory() as storage:
    study = StudyDir.create(spec, storage)
    arm = spec.arms()[0]
    config = trial_config(study, arm)
    results = new_tuner(study, arm, config, [ResultsRecorder(study.results, config)], 1, trainable=stand_in).fit()
    print(json.dumps([len(results), "mlflow" in sys.modules]))
ray.shutdown()
"""


@pytest.mark.ray
def test_an_arms_driver_does_not_import_mlflow_for_ray_tunes_usage_tag(tmp_path):
    pytest.importorskip("mlflow", reason="the tracking extra is not installed: nothing to leave unimported")
    spec = tiny_spec("imports", variants=["baseline"], budget={"trials_per_arm": 1, "epochs": 1})
    ran = subprocess.run(
        [sys.executable, "-c", RUN_AN_ARM, json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    trials, imported_mlflow = json.loads(ran.stdout.splitlines()[-1])
    assert trials == 1 and not imported_mlflow


def test_the_studys_own_process_does_not_import_ray_tune():
    # The study's process starts Ray, shows the progress and starts the arms' drivers, which run Tune
    # (orchestrator/run/study_run.py): loading Tune there cost every `run` and `resume` 0.35-0.6 CPU-s.
    imports = "import sys, orchestrator.cli, orchestrator.run.study_run; print('ray.tune' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", imports], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0 and imported.stdout.strip() == "False", imported.stderr
