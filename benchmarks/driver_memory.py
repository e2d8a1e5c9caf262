"""The arm driver's peak memory after 10 and after 200 finished trials.

The driver side is the real one: the arm's Tune experiment with its Optuna TPE searcher (journal
storage under the study), the Parquet recorder and the progress callback. Only the trial is a
stand-in, a Tune function trainable that reports each epoch's metrics as a real trial would,
without training: 200 real trials take hours on a laptop, and what the driver holds per trial does
not depend on what the trial computed.

    python benchmarks/driver_memory.py [--trials 200] [--epochs 2]
"""

import argparse
import resource
import tempfile

from ray import tune
from tiny_study import tiny_study  # beside this file


def stand_in_trial(hyper: dict, epochs: int = 2) -> None:
    """Reports what a trial reports (every validation metric, per epoch), without training."""
    for epoch in range(1, epochs + 1):
        value = min(1.0, hyper["lr"] * 100 + 0.1 * epoch)
        metrics = {"epoch": epoch, "train_loss": 1 - value, "val_loss": 1 - value, "epoch_seconds": 0.01}
        metrics |= {f"val_{name}": value for name in ("miou", "miou_fg", "dice_mean", "iou_cell", "iou_background")}
        tune.report({**metrics, "best_metric": value, "best_epoch": epoch, "lr": hyper["lr"]})


class PeakMemory(tune.Callback):
    """The driver's peak resident memory (MiB) when 10 and when all trials have finished."""

    def __init__(self, marks: tuple[int, ...]):
        self.marks, self.finished, self.peaks = marks, 0, {}

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.finished += 1
        if self.finished in self.marks:
            self.peaks[self.finished] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(trials: int, epochs: int) -> dict[int, float]:
    import os

    import ray

    from orchestrator.run.progress import ProgressCallback
    from orchestrator.run.ray_session import DRIVER_ENV, RAY_ENV
    from orchestrator.run.recorder import ResultsRecorder
    from orchestrator.run.tuning import new_tuner
    from orchestrator.study.folder import StudyDir
    from orchestrator.study.spec import StudySpec
    from orchestrator.study.trial_config import trial_config

    spec = StudySpec.model_validate(tiny_study("memory", ["frem"], trials, epochs, max_concurrent=2))
    peak = PeakMemory((10, trials))
    os.environ.update({**DRIVER_ENV, **RAY_ENV})  # as an arm's driver process runs
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as storage:
            study = StudyDir.create(spec, storage)
            arm = spec.arms()[0]
            config = trial_config(study, arm)
            callbacks = [ResultsRecorder(study.results, config), ProgressCallback(arm.id, spec.metric, epochs), peak]
            trainable = tune.with_parameters(stand_in_trial, epochs=epochs)
            new_tuner(study, arm, config, callbacks, spec.budget.max_concurrent_trials, trainable=trainable).fit()
    finally:
        ray.shutdown()
    return peak.peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    peaks = measure(args.trials, args.epochs)
    print(f"driver peak RSS after {args.trials} finished trials: {peaks[args.trials]:.0f} MiB")
    print(f"  baseline, after 10 finished trials: {peaks[10]:.0f} MiB (ratio {peaks[args.trials] / peaks[10]:.3f})")


if __name__ == "__main__":
    main()
