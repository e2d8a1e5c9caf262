"""Runs one arm, in its driver process: its Tune experiment, restored after a crash.

Exactly-once bookkeeping: an arm is done when every one of its budgeted trials
has a row in the results. After a crash the arm's experiment is restored;
trials the restored experiment does not know (started after its last saved
state) are moved to ``results/orphaned``, and finished trials whose row was
not yet written are back-filled, so every budgeted trial has exactly one row.
"""

import functools
import logging
from dataclasses import dataclass

from optuna.trial import TrialState
from ray import tune

from orchestrator.run.optuna_storage import Outcome, forget_arm, settle_unfinished_trials
from orchestrator.run.progress import ProgressCallback
from orchestrator.run.recorder import FINISHED, ResultsRecorder
from orchestrator.run.tracking import tracker_callbacks
from orchestrator.run.tuning import can_restore, new_tuner, restore_tuner
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm
from orchestrator.study.trial_config import trial_config

logger = logging.getLogger(__name__)


@dataclass
class ArmOutcome:
    finished: int
    budget: int
    orphaned: list[str]

    @property
    def complete(self) -> bool:
        return self.finished >= self.budget


def run_arm(study: StudyDir, arm: Arm, max_concurrent: int, context: dict | None = None) -> ArmOutcome:
    config = trial_config(study, arm)
    recorder = ResultsRecorder(study.results, config)
    kept = study.carried_trials(arm.id)
    tuner = _restored_tuner(study, arm, config, kept)
    if tuner is None:
        # Nothing of Tune's to continue from: trials recorded before stay (their Optuna trials too,
        # so TPE keeps learning from them) and a new experiment runs the rest of the budget. They are
        # written down, so that resuming that experiment later keeps them too.
        kept = study.results.recorded_trials(arm.id)
        tuner = _fresh_tuner(study, arm, config, recorder, carried=kept, max_concurrent=max_concurrent, context=context)
    if tuner is not None:
        tuner.fit()
    return reconcile_arm(study, arm, recorder, kept)


def _restored_tuner(study: StudyDir, arm: Arm, config, carried: set[str]) -> tune.Tuner | None:
    if not can_restore(study, arm):
        return None
    try:
        ended = {trial.trial_id for trial in _saved_trials(study, arm) if trial.status in FINISHED}
        forgotten = study.results.recorded_trials(arm.id) - ended - carried
        if not forgotten:
            return restore_tuner(study, arm, config)
        # Tune saved its state (every 2 s) before these recorded trials ended: restored, it would run
        # them again while Optuna already holds them finished. The records are the truth: start from them.
        problem = f"predates {len(forgotten)} recorded trial(s)"
    except Exception as error:  # Ray writes its state files non-atomically (upstream issue 58179): cut short
        problem = f"is unreadable ({error})"
    logger.warning("%s: Tune's saved state %s; continuing from the study's records", arm.id, problem)
    return None


def _fresh_tuner(study: StudyDir, arm: Arm, config, recorder, *, carried: set[str], max_concurrent: int, context):
    """``carried``: the arm's trials recorded before, which the new experiment does not run again;
    ``max_concurrent``: the arm's share of the study's trials in flight; ``context``: its search-space context."""
    study.discard_arm_experiment(arm.id)
    study.set_carried_trials(arm.id, carried)
    remaining = arm.trials - len(carried)
    if remaining == arm.trials:
        forget_arm(study.root, arm.id)  # nothing recorded: the Optuna study starts again too
    if remaining <= 0:
        return None
    spec = study.spec
    progress = ProgressCallback(arm.id, spec.metric, spec.budget.epochs)
    callbacks = [recorder, progress, *tracker_callbacks(spec, arm)]
    return new_tuner(study, arm, config, callbacks, max_concurrent, samples=remaining, context=context)


def _saved_trials(study: StudyDir, arm: Arm) -> list:
    """The trials in the arm's latest saved Tune state."""
    if not study.arm_dir(arm.id).is_dir():
        return []
    return tune.ExperimentAnalysis(str(study.arm_dir(arm.id))).trials


def reconcile_arm(study: StudyDir, arm: Arm, recorder: ResultsRecorder, kept: set[str] = frozenset()) -> ArmOutcome:
    """Record what Tune finished and the callbacks missed; ``kept``: trials recorded before this experiment."""
    trials = _saved_trials(study, arm)
    known = {trial.trial_id for trial in trials}
    recorded = study.results.recorded_trials(arm.id)
    for trial in trials:
        if trial.status in FINISHED and trial.trial_id not in recorded:
            recorder.record_trial(trial)
    # Every recorded trial, those of an earlier experiment (``kept``) too: a crash mid-compaction
    # left its epochs both in its compacted file and in epoch files, which this folds in again.
    for trial_id in recorded:
        study.results.compact_epochs(arm.id, trial_id)
    orphaned = study.results.quarantine(arm.id, keep=known | kept)
    unfinished = {trial.trial_id for trial in trials if trial.status not in FINISHED}  # Tune resumes these
    settle_unfinished_trials(study.root, arm.id, live=unfinished, recorded=functools.partial(_outcome, study, arm))
    finished = sum(trial.status in FINISHED for trial in trials) + len(kept)
    return ArmOutcome(finished, arm.trials, orphaned)


OPTUNA_STATES = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}


def _outcome(study: StudyDir, arm: Arm, trial_id: str) -> Outcome | None:
    """How the recorded trial ended, for its Optuna trial: valued at its last epoch, as Tune tells it."""
    row = study.results.trial_row(arm.id, trial_id)
    if row is None:
        return None
    epochs = study.results.epochs_of(arm.id, trial_id)
    last = epochs[-1] if epochs else {}
    return OPTUNA_STATES[row["status"]], last.get(row["metric"]), last.get("epoch")
