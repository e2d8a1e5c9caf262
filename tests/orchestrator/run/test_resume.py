"""Kill the driver with SIGKILL at 10 random moments across one study, resume each time, and check
that at the end every budgeted trial ran to the end and is recorded exactly once, and that no epoch
was trained twice (issue 12). The study keeps its trial checkpoints in an object store (a moto S3
server on 127.0.0.1): every resumed trial continues from its checkpoint in the bucket."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml

from tests.conftest import REPO, orchestrate, tiny_spec
from tests.orchestrator.run.optuna_checks import assert_optuna_matches_trials
from tests.orchestrator.run.s3_server import BUCKET, assert_each_trial_checkpointed_in_the_bucket

pytestmark = pytest.mark.ray

BUDGET, EPOCHS = 2, 2
# More than the baseline's, so the frem arm is still running when the baseline arm is done; 27 result rows
# in all, of which the 10 kills used 20 alone on this machine (a faster start-up leaves more rows per kill)
FREM_BUDGET = 7
BUDGETS = {"cells__unet__baseline": BUDGET, "cells__unet__frem": FREM_BUDGET}
KILLS = 10
# Each kill waits for 0 or 1 new result rows since its driver started, then up to 3 s more: kills land
# anywhere from Python's imports and Ray's start to mid-epoch, mid-trial and mid-arm, and the study moves on.
NEW_ROWS_BEFORE_KILL = (0, 1)
EXTRA_DELAY_S = 3.0
TRUNCATE_AT_KILL = 5  # after this kill, Tune's state of every unfinished arm is cut short


def _driver(spec_path: Path, study: Path) -> subprocess.Popen:
    # Killed before the study folder was written, the study starts again with `run`.
    command = ["resume", str(study)] if (study / "spec.yaml").is_file() else ["run", str(spec_path)]
    if command[0] == "run":
        command += ["--storage", str(study.parent)]
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *command],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _progress(study: Path) -> int:
    """Result rows written so far: (trial, epoch) pairs seen, plus finished trials."""
    epochs = set()
    for path in (study / "results" / "epochs").glob("*/*.parquet"):
        trial_id, _, epoch = path.stem.partition("-e")
        epochs |= {(trial_id, int(epoch))} if epoch else {(trial_id, e) for e in range(1, EPOCHS + 1)}
    return len(epochs) + len(list((study / "results" / "trials").glob("*/*.parquet")))


def _trained_epochs(study: Path) -> dict[tuple[str, int], tuple[float, float]]:
    """(trial, epoch) -> (its training seconds, its loss) for every epoch recorded so far."""
    rows = {}
    for path in (study / "results" / "epochs").glob("*/*.parquet"):
        try:
            table = ds.dataset(path).to_table(columns=["trial_id", "epoch", "epoch_seconds", "train_loss"])
        except FileNotFoundError:  # compacted away just now: its rows are in the trial's file
            continue
        rows |= {(r["trial_id"], r["epoch"]): (r["epoch_seconds"], r["train_loss"]) for r in table.to_pylist()}
    return rows


def _kill_later(driver: subprocess.Popen, study: Path, new_rows: int, delay_s: float) -> bool:
    """SIGKILL the driver ``delay_s`` after ``new_rows`` more result rows; False when it finished first."""
    target, deadline = _progress(study) + new_rows, time.time() + 300
    while _progress(study) < target and driver.poll() is None:
        assert time.time() < deadline, "no progress in 5 minutes"
        time.sleep(0.1)
    try:
        driver.wait(timeout=delay_s)
        return False
    except subprocess.TimeoutExpired:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        return True


def _truncate_tune_state(study: Path) -> None:
    # Ray writes tuner.pkl non-atomically (upstream issue 58179): a kill mid-write leaves it cut short.
    for state in (study / "arms").glob("*/tuner.pkl"):
        if not (study / "state" / f"{state.parent.name}.done").exists():
            state.write_bytes(state.read_bytes()[:20])


def _done_arm_files(study: Path) -> dict[Path, int]:
    done = [p.name.removesuffix(".done") for p in (study / "state").glob("*.done")]
    return {p: p.stat().st_mtime_ns for arm in done for p in (study / "results").glob(f"*/{arm}/*")}


def _kill_repeatedly(spec_path: Path, study: Path) -> tuple[dict[Path, int], dict]:
    """Kill the study's driver KILLS times; returns the files of arms finished by the last kill, and
    every epoch recorded before some kill."""
    moments = random.Random(12)  # seeded: the same moments every run
    kills, trained = 0, {}
    while kills < KILLS:
        new_rows, delay_s = moments.choice(NEW_ROWS_BEFORE_KILL), moments.uniform(0, EXTRA_DELAY_S)
        killed = _kill_later(_driver(spec_path, study), study, new_rows, delay_s)
        assert killed, f"the study ended after {kills} kills ({_progress(study)} result rows)"
        kills += 1
        trained |= _trained_epochs(study)
        if kills == TRUNCATE_AT_KILL:
            _truncate_tune_state(study)  # resumed from the study's own records
    return _done_arm_files(study), trained


def test_sigkill_at_ten_random_moments_then_resume_runs_exactly_the_budget(s3_bucket, tmp_path):
    spec = tiny_spec(
        "killed",
        variants=["baseline", {"name": "frem", "trials": FREM_BUDGET}],
        budget={"trials_per_arm": BUDGET, "epochs": EPOCHS, "max_concurrent_trials": 2},
        checkpoint_storage=f"s3://{BUCKET}/kills",
    )
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    study = tmp_path / "runs" / "killed"
    untouched, trained_before_a_kill = _kill_repeatedly(spec_path, study)

    result = orchestrate("resume", study)
    assert result.returncode == 0, result.stdout + result.stderr

    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    assert trials.groupby("arm").size().to_dict() == BUDGETS
    assert trials["trial_id"].is_unique
    assert (trials["status"] == "completed").all() and (trials["epochs_completed"] == EPOCHS).all()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    assert set(epochs["trial_id"]) == set(trials["trial_id"]) and len(epochs) == sum(BUDGETS.values()) * EPOCHS
    assert_optuna_matches_trials(study)  # no Optuna trial left RUNNING; lost ones FAIL as abandoned
    # Arms finished before the last kill were not run again: their rows were not rewritten.
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in untouched.items())
    # A resumed trial went on from its last checkpoint: an epoch it had recorded was not trained again
    # (that would have taken another time). Trials Tune forgot (the truncated state) are not in the table.
    final = _trained_epochs(study)
    retrained = {key for key, seen in trained_before_a_kill.items() if key in final and final[key] != seen}
    assert not retrained, sorted(retrained)
    assert_each_trial_checkpointed_in_the_bucket(s3_bucket, f"{BUCKET}/kills/killed/train", trials["trial_id"], study)


# Ctrl-C then resume: tests/cluster/test_jobs.py (`orchestrate stop` sends the study SIGINT, then
# `submit --resume`), which checks the clean stop, the budget run once and the Optuna study.
