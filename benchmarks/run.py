"""Study-engine benchmarks, each against a baseline measured in the same run.

Per-trial overhead: the driver's view of a trial (Tune starting it to Tune
recording it complete) minus the time its epochs spent training and
validating, for the project's trials (each a Ray Train run in a Tune trial)
against a plain Tune function trainable that only reports once. Trials run
one at a time on a local Ray, on a tiny study (32x32 synthetic cells, a
2-level U-Net with 4 base channels, 1 epoch), so the figure is the engine's
fixed cost. The project's trials also record where their start-up went
(``trials.startup_seconds``: Tune start to the training loop's first line).

    python benchmarks/run.py [--trials 4]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds
import yaml

from trainables.trial import PHASES_FILE

REPO = Path(__file__).resolve().parent.parent


def plain_tune_overhead(trials: int) -> float:
    """Mean driver-side seconds of a Tune function trainable that reports once."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no result tables on the terminal
    import ray
    from ray import tune

    class Timer(tune.Callback):
        def __init__(self):
            self.started, self.seconds = {}, []

        def on_trial_start(self, iteration, trials, trial, **info):
            self.started[trial.trial_id] = time.time()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.seconds.append(time.time() - self.started[trial.trial_id])

    def report_once(config):
        tune.report({"value": 1.0})

    timer = Timer()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as storage:
            tune.Tuner(
                report_once,
                tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=1),
                run_config=tune.RunConfig(storage_path=storage, callbacks=[timer], verbose=0),
            ).fit()
    finally:
        ray.shutdown()
    return sum(timer.seconds) / len(timer.seconds)


@dataclass
class Phases:
    """Mean seconds per trial of each phase between Tune starting a trial and Tune recording it."""

    trial_actor: float  # Tune start -> the trial function's first line (actor start, imports)
    train_start: float  # -> the training loop's first line (Train controller, worker group, imports)
    loop_setup: float  # -> data loaded, model built
    epochs: float  # training and validation (not overhead)
    reports_and_teardown: float  # checkpoints, reports, the Train run's end
    handoff: float  # the Train run returned -> Tune recorded the trial

    @property
    def overhead(self) -> float:
        return self.trial_actor + self.train_start + self.loop_setup + self.reports_and_teardown + self.handoff


def _phases(study: Path) -> Phases:
    rows = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    trained = epochs.groupby("trial_id")["epoch_seconds"].sum()
    parts = []
    for row in rows.itertuples():
        run = json.loads((study / "train" / f"{row.arm}__{row.trial_id}" / PHASES_FILE).read_text())
        started, finished = row.started_at.timestamp(), row.finished_at.timestamp()
        loop_start = started + row.startup_seconds
        loop_setup = row.setup_seconds
        done_training = loop_start + loop_setup + trained[row.trial_id]
        parts.append(
            [
                run["entered_at"] - started,
                loop_start - run["entered_at"],
                loop_setup,
                trained[row.trial_id],
                run["fit_returned_at"] - done_training,
                finished - run["fit_returned_at"],
            ]
        )
    return Phases(*(sum(column) / len(parts) for column in zip(*parts, strict=True)))


def study_overhead(trials: int) -> Phases:
    """Where the project's trials spend their time, on a tiny study, one trial at a time."""
    spec = {
        "name": "overhead",
        "seed": 0,
        "datasets": [{"name": "cells", "kind": "synthetic", "num_images": 8, "image_size": 32}],
        "architectures": [{"name": "unet", "params": {"base_channels": 4, "depth": 2}}],
        "variants": ["baseline"],
        "budget": {"trials_per_arm": trials, "epochs": 1, "max_concurrent_trials": 1},
        "resources": {"workers": 1, "cpus_per_worker": 1},
        "training": {"batch_size": 4},
    }
    with tempfile.TemporaryDirectory() as root:
        spec_path = Path(root) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        command = [sys.executable, "-m", "orchestrator", "run", str(spec_path), "--storage", root]
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        return _phases(Path(root) / "overhead")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    baseline = plain_tune_overhead(args.trials)
    phases = study_overhead(args.trials)
    print(f"per-trial overhead: {phases.overhead:.1f} s")
    print(f"  baseline, a plain Tune function trainable: {baseline:.3f} s (ratio {phases.overhead / baseline:.0f})")
    for name, seconds in vars(phases).items():
        print(
            f"  {name.replace('_', ' '):22} {seconds:6.2f} s{'  (training: not overhead)' if name == 'epochs' else ''}"
        )
    print(f"  {args.trials} trials each, one at a time, on this machine")


if __name__ == "__main__":
    main()
