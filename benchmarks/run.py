"""Study-engine benchmarks, each against a baseline measured in the same run.

Per-trial overhead: the driver's view of a trial (Tune starting it to Tune
recording it complete) minus the time its epochs spent training and
validating, for the project's trials (each a Ray Train run in a Tune trial)
against a plain Tune function trainable that only reports once. Trials run
one at a time on a local Ray, on a tiny study (32x32 synthetic cells, a
2-level U-Net with 4 base channels, 1 epoch), so the figure is the engine's
fixed cost, broken down by phase. The project's trials also record where
their start-up went (``trials.startup_seconds``, ``trials.setup_seconds``).

All arms at once: a study of several arms against the same arms run as
studies one after another. Driver memory (``driver_memory.py``): peak RSS of
an arm's driver after 10 and after 200 finished trials. Training loop
(``loop_speed.py``): images/s against a hand-written PyTorch loop.

    python benchmarks/run.py [--trials 4] [--arms 3] [--memory-trials 200] [--skip overhead,arms,memory,loop]
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
from tiny_study import tiny_study  # beside this file

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


# What every trial's fresh Ray Train worker process must load before its first step: Ray Train's worker
# module, torch, and the trial's optimizer (EagerAdam: torch's Adam without torch._dynamo's import).
WORKER_FLOOR = (
    "import ray.train.v2._internal.execution.worker_group.worker, torch; "
    "from trainables.eager_optim import EagerAdam; EagerAdam([torch.nn.Parameter(torch.zeros(1))])"
)


def worker_import_floor() -> float:
    """Wall seconds of a fresh Python process that loads only what a trial's worker cannot do without."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", WORKER_FLOOR], cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


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
    spec = tiny_study("overhead", ["baseline"], trials, epochs=1)
    with tempfile.TemporaryDirectory() as root:
        spec_path = Path(root) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(spec))
        command = [sys.executable, "-m", "orchestrator", "run", str(spec_path), "--storage", root]
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        return _phases(Path(root) / "overhead")


def _run_study(spec: dict, root: Path) -> tuple[float, float]:
    """(wall seconds of `orchestrate run`, the sum of its trials' training seconds)."""
    spec_path = root / f"{spec['name']}.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    started = time.perf_counter()
    command = [sys.executable, "-m", "orchestrator", "run", str(spec_path), "--storage", str(root)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    wall = time.perf_counter() - started
    epochs = ds.dataset(root / spec["name"] / "results" / "epochs").to_table().to_pandas()
    return wall, float(epochs["epoch_seconds"].sum())


def arms_at_once(arms: int, trials: int) -> tuple[float, float, float]:
    """(all arms in one study, the same arms as studies one after another, trials' training) seconds."""
    variants = ["baseline", "frem", "dropout", "deep_supervision", "no_deep_layers"][:arms]
    with tempfile.TemporaryDirectory() as root:
        together, trained = _run_study(tiny_study("together", variants, trials, epochs=1), Path(root))
        serial = sum(_run_study(tiny_study(f"alone-{v}", [v], trials, epochs=1), Path(root))[0] for v in variants)
    return together, serial, trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--arms", type=int, default=3, help="arms of the all-at-once study")
    parser.add_argument("--memory-trials", type=int, default=200, help="finished trials of the driver memory part")
    parser.add_argument("--skip", default="", help="comma-separated: overhead, arms, memory, loop")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    if "overhead" not in skip:
        _print_overhead(args.trials)
    if "arms" not in skip:
        _print_arms(args.arms, args.trials)
    if "memory" not in skip:
        _print_memory(args.memory_trials)
    if "loop" not in skip:
        _print_loop()


def _print_arms(arms: int, trials: int) -> None:
    together, serial, trained = arms_at_once(arms, trials)
    print(f"study of {arms} arms x {trials} trials, all arms at once: {together:.0f} s wall")
    print(f"  baseline, the same arms one after another: {serial:.0f} s (ratio {together / serial:.2f})")
    print(f"  the trials' own training and validation: {trained:.0f} s (wall / training {together / trained:.1f})")


def _print_memory(trials: int) -> None:
    from driver_memory import measure  # beside this file

    peaks = measure(trials, 2)
    print(f"driver peak RSS after {trials} finished trials: {peaks[trials]:.0f} MiB")
    print(f"  baseline, after 10 finished trials: {peaks[10]:.0f} MiB (ratio {peaks[trials] / peaks[10]:.3f})")


def _print_loop() -> None:
    from loop_speed import measure  # beside this file

    speed = measure()
    print(f"training loop: {speed.project_images_per_s:.1f} images/s")
    hand = speed.hand_written_images_per_s
    print(f"  baseline, a hand-written loop: {hand:.1f} images/s (ratio {speed.ratio:.2f})")


def _print_overhead(trials: int) -> None:
    baseline = plain_tune_overhead(trials)
    phases = study_overhead(trials)
    print(f"per-trial overhead: {phases.overhead:.1f} s")
    print(f"  baseline, a plain Tune function trainable: {baseline:.3f} s (ratio {phases.overhead / baseline:.0f})")
    for name, seconds in vars(phases).items():
        print(
            f"  {name.replace('_', ' '):22} {seconds:6.2f} s{'  (training: not overhead)' if name == 'epochs' else ''}"
        )
    print(f"  {trials} trials, one at a time, on this machine")
    floor = worker_import_floor()
    print(f"  floor: a fresh process importing what a Train worker needs (Ray Train, torch, Adam): {floor:.2f} s")


if __name__ == "__main__":
    main()
