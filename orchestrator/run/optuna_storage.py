"""Each arm's Optuna study, persisted where Optuna's own tools open it.

``<study>/optuna/journal.log`` is an Optuna JournalStorage file holding one
Optuna study per arm, named by the arm's id::

    storage = JournalStorage(JournalFileBackend("runs/demo/optuna/journal.log"))
    optuna.load_study(study_name="cells__unet__frem", storage=storage)

Each Optuna trial carries the Tune trial id (user attribute ``tune_trial_id``),
which is the ``trial_id`` of the Parquet ``trials`` table. States follow the
table: completed -> COMPLETE, pruned -> PRUNED (valued at its last
intermediate value), failed -> FAIL; a trial lost in a crash (started after
Tune last saved its state, run again under a new id) is FAIL with the user
attribute ``abandoned``.
"""

from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

JOURNAL = "journal.log"
TUNE_TRIAL_ID = "tune_trial_id"


def journal_path(study_root: Path) -> Path:
    return Path(study_root) / "optuna" / JOURNAL


def optuna_storage(study_root: Path) -> JournalStorage:
    path = journal_path(study_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def forget_arm(study_root: Path, arm_id: str) -> None:
    """Delete the arm's Optuna study, if any (its Tune experiment is being started again from nothing)."""
    if not journal_path(study_root).is_file():
        return
    storage = optuna_storage(study_root)
    if arm_id in {summary.study_name for summary in optuna.get_all_study_summaries(storage)}:
        optuna.delete_study(study_name=arm_id, storage=storage)


def close_abandoned_trials(study_root: Path, arm_id: str, live: set[str]) -> int:
    """Mark FAIL every RUNNING Optuna trial of the arm whose Tune trial is not ``live`` (still to resume).

    Returns how many were closed."""
    if not journal_path(study_root).is_file():
        return 0
    storage = optuna_storage(study_root)
    try:
        study_id = storage.get_study_id_from_name(arm_id)
    except KeyError:
        return 0
    closed = 0
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get(TUNE_TRIAL_ID) not in live:
            storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            closed += 1
    return closed
