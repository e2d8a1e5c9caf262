"""Tune callback that writes trial and epoch rows to the study's Parquet tables as they happen.

It runs in the driver. It holds only plain data (it is pickled with the Tune
experiment and comes back on ``Tuner.restore``).
"""

import datetime as dt
import time
from pathlib import Path
from typing import Any

from ray import tune

from orchestrator import __version__
from orchestrator.results.schema import SCHEMA_VERSION, arm_key
from orchestrator.results.store import ResultsStore
from orchestrator.run.optuna_storage import tell_deferred
from trainables.config import TrialConfig

FINISHED = ("TERMINATED", "ERROR")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _at(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _read_error(trial) -> str:
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
        # The last line of Ray's traceback names the original exception, e.g. NonFiniteLossError: ...
        return lines[-1][:500] if lines else "unknown error"
    return "unknown error"


class ResultsRecorder(tune.Callback):
    def __init__(self, store: ResultsStore, config: TrialConfig):
        self.store = store
        self.config = config
        self.started_at: dict[str, float] = {}  # trial id -> when Tune (last) started it
        self.startup_seconds: dict[str, float] = {}  # trial id -> from then to its training loop's first line
        self.setup_seconds: dict[str, float] = {}  # trial id -> its training loop's data loading and model building

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started_at[trial.trial_id] = time.time()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "epoch" not in result:
            return
        if "loop_started_at" in result and trial.trial_id in self.started_at:
            self.startup_seconds[trial.trial_id] = result["loop_started_at"] - self.started_at[trial.trial_id]
            self.setup_seconds[trial.trial_id] = result.get("setup_seconds")
        # A restarted trial replays the epochs it finished before the restart ("history").
        for metrics in [*result.get("history", []), result]:
            row = {key: value for key, value in metrics.items() if not isinstance(value, (dict, list))}
            row.update(study=self.config.study, arm=self.config.arm_id, trial_id=trial.trial_id, recorded_at=_now())
            self.store.write_epoch(self.config.arm_id, trial.trial_id, row)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.record_trial(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.record_trial(trial, failed=True)

    def record_trial(self, trial, failed: bool | None = None) -> dict[str, Any]:
        """Write the trial's row; also used to back-fill trials finished before a crash."""
        failed = trial.status == "ERROR" if failed is None else failed
        config = self.config
        epochs = self.store.epochs_of(config.arm_id, trial.trial_id)
        best = config.direction.best_of(epochs, key=lambda epoch: epoch.get(config.metric))
        completed = len(epochs)
        # A trial stopped by its early-stopping rule is complete; one stopped by ASHA is pruned.
        ran_out = completed >= config.training.epochs or bool((trial.last_result or {}).get("stopped_early"))
        status = "failed" if failed else ("completed" if ran_out else "pruned")
        row = {
            **arm_key(config),
            "search_space": config.search_space,
            "seed": config.seed,
            "metric": config.metric,
            "trial_id": trial.trial_id,
            "trial_seed": config.trial_seed(trial.config),
            "status": status,
            "error": _read_error(trial) if failed else None,
            "epochs_completed": completed,
            "best_epoch": best["epoch"] if best else None,
            "best_metric": best[config.metric] if best else None,
            "best_val_miou": best["val_miou"] if best else None,
            "last_val_miou": epochs[-1]["val_miou"] if epochs else None,
            "wall_seconds": (trial.last_result or {}).get("time_total_s"),
            "startup_seconds": self.startup_seconds.get(trial.trial_id),
            "setup_seconds": self.setup_seconds.get(trial.trial_id),
            "workers": config.resources.workers,
            "cpus_per_worker": config.resources.cpus_per_worker,
            "gpus_per_worker": config.resources.gpus_per_worker,
            "node": epochs[-1].get("node") if epochs else None,
            "package_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "started_at": _at(self.started_at.get(trial.trial_id)),
            "finished_at": _now(),
            **{f"hp_{name}": value for name, value in trial.config.items()},
        }
        self.store.write_trial(config.arm_id, trial.trial_id, row)
        tell_deferred(trial.trial_id)  # Optuna learns how the trial ended only once its row is written
        self.store.compact_epochs(config.arm_id, trial.trial_id)
        return row
