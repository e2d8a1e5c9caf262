"""One driver per study across hosts sharing the storage: an atomic lock file with a stale-lock rule."""

import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from orchestrator.errors import UserError
from orchestrator.run.lock import STALE_AFTER_S, Holder, acquire, lock_path
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import StudySpec
from tests.conftest import REPO, tiny_spec


@pytest.fixture
def study(tmp_path) -> StudyDir:
    return StudyDir.create(StudySpec.model_validate(tiny_spec("locked")), tmp_path)


def _held_by(study: StudyDir, host: str, pid: int, age_s: float = 0.0) -> None:
    path = lock_path(study)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host, "pid": pid, "started": time.time() - age_s}))
    os.utime(path, (time.time() - age_s, time.time() - age_s))


def test_a_live_driver_on_another_host_keeps_the_study(study):
    _held_by(study, "node-b", 4242)
    with pytest.raises(UserError, match="already being run by process 4242 on node-b"):
        acquire(lock_path(study), Holder.me())


def test_a_lock_another_host_stopped_touching_is_stale_and_taken_over(study):
    _held_by(study, "node-b", 4242, age_s=STALE_AFTER_S + 5)
    me = Holder.me()
    acquire(lock_path(study), me)
    assert json.loads(lock_path(study).read_text())["pid"] == me.pid


def test_a_lock_of_a_killed_driver_on_this_host_is_taken_over_at_once(study):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _held_by(study, Holder.me().host, gone.pid)
    acquire(lock_path(study), Holder.me())


def _race(path, barrier) -> bool:
    barrier.wait()
    try:
        acquire(path, Holder.me())
        return True
    except UserError:
        return False


def test_drivers_starting_at_the_same_moment_get_one_lock(study):
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(6)
    with context.Pool(6) as pool:
        won = pool.starmap(_race, [(lock_path(study), barrier)] * 6)
    assert sum(won) == 1


def test_a_driver_holds_the_lock_while_it_lives_and_releases_it_when_it_exits(study):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from orchestrator.run.lock import claim_driver; "
         "from orchestrator.study.folder import StudyDir; claim_driver(StudyDir(sys.argv[1])); "
         "print('held', flush=True); time.sleep(float(sys.argv[2]))", str(study.root), "3"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match=f"process {holder.pid}"):
        acquire(lock_path(study), Holder.me())
    assert holder.wait(timeout=60) == 0
    assert not lock_path(study).exists()
