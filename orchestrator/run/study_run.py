"""Runs a study, in its own process: every unfinished arm at once, each in a driver process of its own.

This process starts (or joins) the study's Ray, shows progress and starts the arms' drivers
(``arm_pool``); each driver runs its arm's Tune experiment (``runner``). No Tune here.
"""

from rich.console import Console

from orchestrator.results.store import read_table
from orchestrator.run.arm_pool import ArmPool, ConcurrencyCaps, study_trial_slots
from orchestrator.run.cluster_capacity import Fit, cluster_capacity, waiting_note, worker_bundle
from orchestrator.run.display import StudyDisplay
from orchestrator.run.ray_session import ray_session, study_ray_address, wants_dashboard
from orchestrator.run.tracking import create_study_experiment
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import StudySpec


def _show_recorded(study: StudyDir, display: StudyDisplay) -> None:
    """One progress line per arm, starting from what is already recorded."""
    spec = study.spec
    trials = read_table(study.root, "trials")
    for arm in spec.arms():
        mine = trials[trials["arm"] == arm.id] if len(trials) else trials
        best = spec.mode.best(mine["best_metric"]) if len(mine) else None
        display.add_arm(arm.id, arm.trials, len(mine), best)


def _say_if_waiting_for_resources(spec: StudySpec, display: StudyDisplay) -> None:
    capacity = cluster_capacity(worker_bundle(spec))
    if capacity.fit is Fit.AFTER_SCALING:
        display.note(waiting_note(capacity))


def run_study(study: StudyDir, address: str | None, console: Console) -> bool:
    """Run (or continue) every unfinished arm of a validated study, all at once, each in a driver process
    of its own joined to the study's Ray. Returns False if interrupted before the end."""
    spec = study.spec
    create_study_experiment(spec)
    with ray_session(address, study.logs_dir, dashboard=wants_dashboard(spec.stops_trials_mid_run)):
        with StudyDisplay(console, spec.metric, spec.mode, spec.budget.epochs) as display:
            _show_recorded(study, display)
            _say_if_waiting_for_resources(spec, display)
            unfinished = [arm for arm in spec.arms() if not study.is_done(arm.id)]
            caps = ConcurrencyCaps(spec.budget.max_concurrent_trials, study_trial_slots(spec))
            return ArmPool(study, study_ray_address(address), display, caps).run(unfinished)
