"""Running a study: Ray session, Tune/Optuna wiring, recorder, progress, lock and the final evaluation."""

from orchestrator.lazy import lazy_exports

# Names load on first use (PEP 562): `status`, `compare` and the study folder's lock import
# orchestrator.run.lock without paying for Ray Tune and pandas (about 0.7 CPU-s a command).
_MODULE_OF = {
    "start_evaluation": "final_evaluation",
    "claim_driver": "lock",
    "ResultsRecorder": "recorder",
    "run_study": "study_run",
    "StudyOptunaSearch": "tuning",
    "new_tuner": "tuning",
    "restore_tuner": "tuning",
}
__all__ = sorted(_MODULE_OF)
__getattr__ = lazy_exports(__name__, _MODULE_OF)
