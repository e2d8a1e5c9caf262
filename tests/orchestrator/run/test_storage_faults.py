"""The storage fills up mid-study, then turns read-only: each time one clear line and exit code 2,
no file corrupted, and once repaired `resume` finishes the study with every trial once (issue 12).

The storage is a small tmpfs mounted by the test. Linux refuses to remount a filesystem read-only
while a process holds a file open for writing there (EBUSY), as a running study does with its logs,
so the mid-study fault is a full disk; read-only is tested on `resume`."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from orchestrator.run.optuna_storage import optuna_storage
from tests.conftest import REPO, orchestrate, tiny_spec
from tests.orchestrator.run.optuna_checks import assert_optuna_matches_trials


def _can_mount() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", folder], capture_output=True)
        if mounted.returncode == 0:
            subprocess.run(["umount", folder], check=True)
        return mounted.returncode == 0


pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(not _can_mount(), reason="mounting a tmpfs needs root (CAP_SYS_ADMIN); CI runs as root"),
]

BUDGET, EPOCHS = 3, 2


@pytest.fixture
def disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as file:
        try:
            while True:
                file.write(b"\0" * (1 << 20))
                file.flush()
        except OSError:  # ENOSPC: the disk is full
            pass
    return filler


def _remount(disk: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


def _run_until_first_trial_then_fill(spec_path: Path, disk: Path, logs: Path) -> subprocess.CompletedProcess:
    with open(logs / "out", "w") as out, open(logs / "err", "w") as err:
        driver = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "run", str(spec_path), "--storage", str(disk)],
            cwd=REPO,
            stdout=out,
            stderr=err,
            env={**os.environ, "COLUMNS": "200"},
        )
        trials = disk / "full" / "results" / "trials"
        while not any(trials.glob("*/*.parquet")):
            assert driver.poll() is None, "the study ended before its first trial was recorded"
            time.sleep(0.2)
        filler = _fill(disk)
        returncode = driver.wait(timeout=300)
    filler.unlink()
    return subprocess.CompletedProcess(driver.args, returncode, (logs / "out").read_text(), (logs / "err").read_text())


def _assert_one_line_error(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(errors) <= 3 and reason in errors[-1] and "orchestrate resume" in errors[-1], result.stderr


def _assert_readable(study: Path) -> None:
    for path in (study / "results").rglob("*.parquet"):
        pq.read_table(path)  # whole, not cut short
    optuna.load_study(study_name="cells__unet__baseline", storage=optuna_storage(study))


def _files(study: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in study.rglob("*") if p.is_file() and "logs" not in p.parts}


def test_full_then_read_only_storage_stops_cleanly_and_resume_finishes(tmp_path, disk):
    spec = tiny_spec("full", variants=["baseline"], budget={"trials_per_arm": BUDGET, "epochs": EPOCHS})
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    study = disk / "full"

    _assert_one_line_error(_run_until_first_trial_then_fill(spec_path, disk, tmp_path), "No space left on device")
    _assert_readable(study)

    before = _files(study)
    _remount(disk, "ro")
    _assert_one_line_error(orchestrate("resume", study), "Read-only file system")
    assert _files(study) == before  # nothing written, nothing lost
    _remount(disk, "rw")

    result = orchestrate("resume", study)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    assert len(trials) == BUDGET and trials["trial_id"].is_unique and (trials["status"] == "completed").all()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == BUDGET * EPOCHS
    assert_optuna_matches_trials(study)
