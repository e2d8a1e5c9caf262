"""The storage turns read-only mid-study, then fills up mid-resume: each time one clear line and exit
code 2, no file corrupted, and once repaired `resume` finishes the study with every trial once (issue 12).

The storage is a small tmpfs mounted by the test. Linux refuses to remount a filesystem read-only
while a process holds a file open for writing there (EBUSY), as a running study does with its logs,
so the read-only fault is a read-only bind mount stacked over it: every file opened from then on is
refused (EROFS), as on an NFS export turned read-only, and unmounting it is the repair. A file
already open for appending (the study's own log) keeps writing to the filesystem beneath."""

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
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

BUDGET, EPOCHS = 4, 2  # each fault leaves trials to run


@pytest.fixture
def disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@contextmanager
def read_only(disk: Path):
    subprocess.run(["mount", "--bind", str(disk), str(disk)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(disk)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@contextmanager
def full(disk: Path):
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as file:
        # MiB chunks, then pages: stopping at the first refused MiB left up to 1 MiB free, room enough
        # for a study whose last trials were recorded together to write its evaluation and finish.
        for chunk in (1 << 20, 4096):
            try:
                while True:
                    file.write(b"\0" * chunk)
            except OSError:  # ENOSPC: no room for another chunk
                pass
    try:
        yield
    finally:
        filler.unlink()


def _recorded_trials(study: Path) -> int:
    return len(list((study / "results" / "trials").glob("*/*.parquet")))


def _fault_after_a_trial(command: list[str], study: Path, fault, logs: Path) -> subprocess.CompletedProcess:
    """Run `orchestrate COMMAND`; once it has recorded a trial, hold ``fault`` on the disk until it ends."""
    before = _recorded_trials(study)
    with open(logs / "out", "w") as out, open(logs / "err", "w") as err:
        driver = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *command],
            cwd=REPO,
            stdout=out,
            stderr=err,
            env={**os.environ, "COLUMNS": "200"},
        )
        while _recorded_trials(study) <= before:
            assert driver.poll() is None, "the command ended before it recorded a trial"
            time.sleep(0.2)
        with fault(study.parent):
            returncode = driver.wait(timeout=300)
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


def _recorded_rows(study: Path) -> set[tuple]:
    """Every row under results/ by what it records (table, trial, epoch), whichever file holds it now:
    a trial's epoch files are folded into one file once it is recorded, even when a fault delays that."""
    rows = set()
    for path in (study / "results").rglob("*.parquet"):
        table = pq.read_table(path).to_pylist()
        rows |= {(path.relative_to(study).parts[1], row["trial_id"], row.get("epoch")) for row in table}
    return rows


def test_read_only_then_full_storage_stop_cleanly_and_resume_finishes(tmp_path, disk):
    spec = tiny_spec("faults", variants=["baseline"], budget={"trials_per_arm": BUDGET, "epochs": EPOCHS})
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    study = disk / "faults"

    run = ["run", str(spec_path), "--storage", str(disk)]
    _assert_one_line_error(_fault_after_a_trial(run, study, read_only, tmp_path), "Read-only file system")
    _assert_readable(study)

    before, recorded = _files(study), _recorded_rows(study)
    with read_only(disk):  # still read-only: resume refuses at once and writes nothing
        _assert_one_line_error(orchestrate("resume", study), "Read-only file system")
    assert _files(study) == before

    _assert_one_line_error(_fault_after_a_trial(["resume", str(study)], study, full, tmp_path), "No space left")
    _assert_readable(study)
    assert recorded and recorded <= _recorded_rows(study)  # every row recorded before stays

    result = orchestrate("resume", study)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    assert len(trials) == BUDGET and trials["trial_id"].is_unique and (trials["status"] == "completed").all()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == BUDGET * EPOCHS
    assert_optuna_matches_trials(study)
