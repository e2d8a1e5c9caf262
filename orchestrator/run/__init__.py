"""Running a study: Ray session, Tune/Optuna wiring, recorder, progress, lock and the final evaluation."""

from orchestrator.run.final_evaluation import evaluate_arm
from orchestrator.run.lock import claim_driver
from orchestrator.run.recorder import ResultsRecorder
from orchestrator.run.runner import run_study
from orchestrator.run.tuning import StudyOptunaSearch, new_tuner, restore_tuner

__all__ = [
    "ResultsRecorder",
    "StudyOptunaSearch",
    "claim_driver",
    "evaluate_arm",
    "new_tuner",
    "restore_tuner",
    "run_study",
]
