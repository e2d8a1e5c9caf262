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
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds
import yaml

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


def study_overhead(trials: int) -> tuple[float, float]:
    """(mean overhead, mean start-up) in seconds of the project's trials on a tiny study."""
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
        rows = ds.dataset(Path(root) / "overhead" / "results" / "trials").to_table().to_pandas()
        epochs = ds.dataset(Path(root) / "overhead" / "results" / "epochs").to_table().to_pandas()
    trained = epochs.groupby("trial_id")["epoch_seconds"].sum()
    wall = (rows["finished_at"] - rows["started_at"]).dt.total_seconds().to_numpy()
    overhead = wall - trained.reindex(rows["trial_id"]).to_numpy()
    return float(overhead.mean()), float(rows["startup_seconds"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    baseline = plain_tune_overhead(args.trials)
    overhead, startup = study_overhead(args.trials)
    print(f"per-trial overhead: {overhead:.1f} s")
    print(f"  baseline, a plain Tune function trainable: {baseline:.3f} s (ratio {overhead / baseline:.0f})")
    print(f"  of which start-up (Tune start -> training loop's first line): {startup:.1f} s")
    print(f"  {args.trials} trials each, one at a time, on this machine")


if __name__ == "__main__":
    main()
