"""What a study's Optuna storage must hold: the Parquet trials table, one to one, opened with Optuna's own API."""

from pathlib import Path

import optuna
import pyarrow.dataset as ds
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

STATES = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}


def assert_optuna_matches_trials(study: Path) -> None:
    storage = JournalStorage(JournalFileBackend(str(study / "optuna" / "journal.log")))
    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    for arm, rows in trials.groupby("arm"):
        optuna_trials = optuna.load_study(study_name=arm, storage=storage).trials
        assert not [t for t in optuna_trials if t.state == TrialState.RUNNING], f"{arm}: trials left RUNNING"
        abandoned = [t for t in optuna_trials if t.user_attrs.get("abandoned")]
        assert all(t.state == TrialState.FAIL for t in abandoned)
        by_id = {t.user_attrs["tune_trial_id"]: t for t in optuna_trials if t not in abandoned}
        states = [(t.number, t.state.name, t.user_attrs) for t in optuna_trials]
        assert sorted(by_id) == sorted(rows["trial_id"]), (arm, states, sorted(rows["trial_id"]))
        for row in rows.itertuples():
            optuna_trial = by_id[row.trial_id]
            assert optuna_trial.state == STATES[row.status], (row.trial_id, row.status, optuna_trial.state)
            last = epochs[epochs["trial_id"] == row.trial_id].sort_values("epoch")[row.metric].iloc[-1]
            if row.status in ("completed", "pruned"):  # valued at the last reported epoch
                assert optuna_trial.value == last
            if row.status == "pruned":
                assert optuna_trial.intermediate_values[max(optuna_trial.intermediate_values)] == last
