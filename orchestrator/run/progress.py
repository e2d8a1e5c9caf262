"""A trial's progress, from the Tune callback of an arm's experiment to the display of its process.

The callback is pickled with the Tune experiment (under this module's name), so it holds no
terminal state: it forwards events to the display that the running process installed (an
arm driver's ``EventWriter``; the study's ``StudyDisplay`` lives in ``display``).
"""

from ray import tune

from orchestrator.run.display import current_display


class ProgressCallback(tune.Callback):
    def __init__(self, arm: str, metric: str, epochs: int):
        self.arm, self.metric, self.epochs = arm, metric, epochs

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if display := current_display():
            display.trial_result(self.arm, trial.trial_id, result)

    def _finished(self, trial, status: str):
        display = current_display()
        if not display:
            return
        result = trial.last_result or {}
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.config.items())
        value = result.get(self.metric)
        detail = f"{self.metric}={value:.4f}  ({params})" if isinstance(value, float) else f"({params})"
        display.trial_finished(self.arm, trial.trial_id, status, detail)

    def on_trial_complete(self, iteration, trials, trial, **info):
        finished_all = (trial.last_result or {}).get("epoch", 0) >= self.epochs
        self._finished(trial, "completed" if finished_all else "pruned")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._finished(trial, "failed")
