"""A resume finishes the Optuna trials a crash left RUNNING: as their Parquet rows say, else FAIL."""

import optuna
from optuna.trial import TrialState

from orchestrator.run.optuna_storage import TUNE_TRIAL_ID, optuna_storage, settle_unfinished_trials

ARM = "cells__unet__frem"


def _running_trials(study_root, tune_ids):
    study = optuna.create_study(study_name=ARM, storage=optuna_storage(study_root), direction="maximize")
    for tune_id in tune_ids:
        trial = study.ask()
        trial.set_user_attr(TUNE_TRIAL_ID, tune_id)
        trial.report(0.25, 1)


def test_running_trials_are_finished_from_their_rows_or_failed_as_abandoned(tmp_path):
    _running_trials(tmp_path, ["completed", "pruned", "failed", "lost", "live"])
    rows = {
        "completed": (TrialState.COMPLETE, 0.5, 2),
        "pruned": (TrialState.PRUNED, 0.3, 2),
        "failed": (TrialState.FAIL, None, None),
    }
    settle_unfinished_trials(tmp_path, ARM, live={"live"}, recorded=rows.get)

    trials = {
        t.user_attrs[TUNE_TRIAL_ID]: t
        for t in optuna.load_study(study_name=ARM, storage=optuna_storage(tmp_path)).trials
    }
    assert trials["completed"].state == TrialState.COMPLETE and trials["completed"].value == 0.5
    assert trials["pruned"].state == TrialState.PRUNED and trials["pruned"].value == 0.3
    assert trials["pruned"].intermediate_values == {1: 0.25, 2: 0.3}  # valued at its last epoch
    assert trials["failed"].state == TrialState.FAIL and "abandoned" not in trials["failed"].user_attrs
    assert trials["lost"].state == TrialState.FAIL and trials["lost"].user_attrs["abandoned"]
    assert trials["live"].state == TrialState.RUNNING  # Tune resumes it
