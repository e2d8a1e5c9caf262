"""The study-wide cap on trials in flight, split among the arms that run at once."""

import pytest

from orchestrator.run.arm_events import ArmEvent
from orchestrator.run.arm_pool import ConcurrencyCaps


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
