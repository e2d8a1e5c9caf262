"""Runs a study: its arms one after another, each a Tune experiment, resumable at any point.

Exactly-once bookkeeping: an arm is done when every one of its budgeted trials
has a row in the results. After a crash the arm's experiment is restored;
trials the restored experiment does not know (started after its last saved
state) are moved to ``results/orphaned``, and finished trials whose row was
not yet written are back-filled, so every budgeted trial has exactly one row.
"""

import os
from dataclasses import dataclass

from ray import tune
from rich.console import Console

from .cluster import ray_session
from .errors import UserError
from .evaluation import evaluate_arm
from .progress import ProgressCallback, StudyDisplay
from .recorder import FINISHED, ResultsRecorder
from .results import read_table
from .spec import Arm
from .study import StudyDir
from .tuning import can_restore, new_tuner, restore_tuner
from .validate import validate_study


@dataclass
class ArmOutcome:
    finished: int
    budget: int
    orphaned: list[str]

    @property
    def complete(self) -> bool:
        return self.finished >= self.budget


def arm_metadata(study: StudyDir, arm: Arm) -> dict:
    spec = study.spec
    return {
        "study": spec.name,
        "arm": arm.id,
        "dataset": arm.dataset.name,
        "architecture": arm.architecture.key,
        "variant": arm.variant.name,
        "fold": arm.fold,
        "search_space": arm.variant.space,
        "seed": spec.seed,
        "metric": spec.metric,
        "mode": spec.mode,
        "epochs": spec.budget.epochs,
        "resources": spec.resources.model_dump(),
    }


def run_arm(study: StudyDir, arm: Arm) -> ArmOutcome:
    spec = study.spec
    recorder = ResultsRecorder(study.results, arm_metadata(study, arm))
    if can_restore(study, arm):
        tuner = restore_tuner(study, arm)
    else:
        study.discard_arm_experiment(arm.id)
        tuner = new_tuner(study, arm, [recorder, ProgressCallback(arm.id, spec.metric, spec.budget.epochs)])
    tuner.fit()
    return reconcile_arm(study, arm, recorder)


def reconcile_arm(study: StudyDir, arm: Arm, recorder: ResultsRecorder) -> ArmOutcome:
    trials = tune.ExperimentAnalysis(str(study.arm_dir(arm.id))).trials
    known = {trial.trial_id for trial in trials}
    recorded = study.results.recorded_trials(arm.id)
    for trial in trials:
        if trial.status in FINISHED and trial.trial_id not in recorded:
            recorder.record_trial(trial)
    orphaned = study.results.quarantine(arm.id, keep=known)
    finished = sum(trial.status in FINISHED for trial in trials)
    return ArmOutcome(finished, study.spec.budget.trials_per_arm, orphaned)


def run_study(study: StudyDir, address: str | None, console: Console) -> bool:
    """Run (or continue) every unfinished arm. Returns False if interrupted before the end."""
    spec = study.spec
    validate_study(spec)
    trials = read_table(study.root, "trials")
    with ray_session(address, study.logs_dir):
        with StudyDisplay(console, spec.metric, spec.mode, spec.budget.epochs) as display:
            for arm in spec.arms():
                mine = trials[trials["arm"] == arm.id] if len(trials) else trials
                best = mine["best_metric"].max() if spec.mode == "max" else mine["best_metric"].min()
                display.add_arm(arm.id, spec.budget.trials_per_arm, len(mine), None if mine.empty else best)
            for arm in spec.arms():
                if study.is_done(arm.id):
                    continue
                outcome = run_arm(study, arm)
                if outcome.orphaned:
                    console.log(f"{arm.id}: moved rows of {len(outcome.orphaned)} trial(s) lost in a crash to results/orphaned")
                if not outcome.complete:
                    return False
                if not study.results.evaluated(arm.id):
                    display.note(f"{arm.id}: evaluating the best trial on held-out data")
                    summary = evaluate_arm(study, arm)
                    if summary:
                        display.note(f"{arm.id}: {summary['eval_split']} mIoU {summary['test_miou']:.4f}")
                study.mark_done(arm.id)
    return True


def claim_driver(study: StudyDir) -> None:
    """Refuse to drive a study that a live process is already driving."""
    pid_file = study.root / "state" / "driver.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        other = int(pid_file.read_text())
        if other != os.getpid():
            os.kill(other, 0)  # raises if that process is gone
            raise UserError(f"study {study.root} is already being run by process {other}; wait for it or stop it first")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass
    pid_file.write_text(str(os.getpid()))
