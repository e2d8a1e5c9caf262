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

The Parquet rows come first: Tune tells its searcher that a trial ended before
its callbacks run, so told at once, Optuna could hold a finished trial whose
row a crash or a full disk kept from being written. The searcher defers its
tell (``defer_tell``); the recorder releases it once the row is written
(``tell_deferred``), and a resume finishes, from its row, any Optuna trial a
crash left RUNNING in between (``settle_unfinished_trials``).
"""

from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from orchestrator.study.folder import OPTUNA_JOURNAL

TUNE_TRIAL_ID = "tune_trial_id"


def journal_path(study_root: Path) -> Path:
    return Path(study_root) / OPTUNA_JOURNAL


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


_deferred_tells: dict[str, Callable[[], None]] = {}  # Tune trial id -> its searcher's tell, in this process


def defer_tell(trial_id: str, tell: Callable[[], None]) -> None:
    _deferred_tells[trial_id] = tell


def tell_deferred(trial_id: str) -> None:
    """Tell Optuna how the trial ended, now that its row is written."""
    tell = _deferred_tells.pop(trial_id, None)
    if tell is not None:
        tell()


# A recorded trial's outcome: its Optuna state and value (the metric at its last epoch).
Outcome = tuple[TrialState, float | None, int | None]  # state, value, last epoch


def settle_unfinished_trials(study_root: Path, arm_id: str, live: set[str], recorded: Callable[[str], Outcome | None]):
    """Finish every RUNNING Optuna trial of the arm whose Tune trial is not ``live`` (still to resume):
    as its row says when it has one, else FAIL as ``abandoned``."""
    if not journal_path(study_root).is_file():
        return
    storage = optuna_storage(study_root)
    try:
        study_id = storage.get_study_id_from_name(arm_id)
    except KeyError:
        return
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        tune_id = trial.user_attrs.get(TUNE_TRIAL_ID)
        if tune_id in live:
            continue
        outcome = recorded(tune_id) if tune_id else None
        if outcome is None:
            storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            continue
        state, value, epoch = outcome
        if value is None and state != TrialState.FAIL:
            state = TrialState.PRUNED  # nothing reported: as Ray's OptunaSearch tells such a trial
        if state == TrialState.PRUNED and epoch is not None and epoch not in trial.intermediate_values:
            storage.set_trial_intermediate_value(trial._trial_id, epoch, value)  # what PRUNED is valued at
        values = None if value is None or state == TrialState.FAIL else [value]
        storage.set_trial_state_values(trial._trial_id, state, values)
