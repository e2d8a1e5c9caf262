"""The study-wide cap on trials in flight, split among the arms that run at once; Ctrl-C with arms waiting."""

import signal
import subprocess
import sys
import time

import pytest
import yaml

from orchestrator.run.arm_events import ArmEvent
from orchestrator.run.arm_pool import ConcurrencyCaps
from tests.conftest import REPO, tiny_spec


@pytest.mark.parametrize(
    ("per_arm", "total", "waiting", "expected"),
    [
        (2, 2, 2, [1, 1]),  # a 2-core laptop: both arms at once, one trial each
        (2, 8, 3, [2, 2, 2]),  # room for all: each arm its own cap
        (4, 5, 2, [3, 2]),  # the remainder goes to the first arms
        (2, 3, 5, [1, 1, 1]),  # more arms than slots: as many arms as fit, the rest wait
        (2, 4, 0, []),
    ],
)
def test_the_study_cap_is_shared_among_as_many_arms_as_fit(per_arm, total, waiting, expected):
    caps = ConcurrencyCaps(per_arm=per_arm, total=total)
    assert caps.shares(waiting) == expected
    assert caps.in_use == sum(expected) <= total


def test_a_finished_arm_frees_its_share_for_a_waiting_arm():
    caps = ConcurrencyCaps(per_arm=2, total=3)
    assert caps.shares(5) == [1, 1, 1] and caps.shares(2) == []
    caps.release(1)
    assert caps.shares(2) == [1]


def test_events_survive_the_pipe_as_json_lines():
    event = ArmEvent("result", arm="cells__unet__frem", trial_id="ab_00001", epoch=2, value=0.5)
    assert ArmEvent.from_line(event.to_line()) == event
    assert event.to_line().count("\n") == 1


@pytest.mark.ray
def test_ctrl_c_while_arms_wait_for_a_slot_stops_the_study(tmp_path):
    # One trial in flight study-wide, three arms: Ctrl-C while the first runs leaves two never started,
    # and the study process must stop (not wait on them forever), saying how to resume.
    spec = tiny_spec(
        "waiting",
        variants=["baseline", "frem", "deep_supervision"],
        budget={"trials_per_arm": 1, "epochs": 2, "max_concurrent_trials": 1, "max_concurrent_trials_total": 1},
    )
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    command = [sys.executable, "-m", "orchestrator", "run", tmp_path / "spec.yaml", "--storage", tmp_path / "runs"]
    study = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs, deadline = tmp_path / "runs" / "waiting" / "logs", time.time() + 120
    while not list(logs.glob("arm-*.out")) and study.poll() is None and time.time() < deadline:
        time.sleep(0.2)  # until the first arm's driver has started
    study.send_signal(signal.SIGINT)
    try:
        _, stderr = study.communicate(timeout=120)
    finally:
        study.kill()  # still running: the failure below, not a process left spinning
    assert study.returncode == 130 and "orchestrate resume" in stderr, stderr
    assert len(list(logs.glob("arm-*.out"))) == 1  # the other two never started
