"""Progress events from an arm's driver process to the study's terminal, one JSON line each.

Each arm runs in a driver process of its own (see ``arm_pool``); its Tune
callbacks call the same display methods as they would in one process, and
``EventWriter`` turns each call into a line on a pipe that the study process
reads and replays on its ``StudyDisplay``.
"""

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.run.display import StudyDisplay

RESULT, FINISHED, NOTE, ERROR = "result", "finished", "note", "error"


@dataclass(frozen=True)
class ArmEvent:
    kind: str
    arm: str = ""
    trial_id: str = ""
    epoch: int | None = None
    value: float | None = None
    status: str = ""
    text: str = ""

    def to_line(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in ("", None)}) + "\n"

    @classmethod
    def from_line(cls, line: str) -> "ArmEvent":
        return cls(**json.loads(line))


class EventWriter:
    """Stands in for the ``StudyDisplay`` inside an arm's driver process: writes events to a pipe."""

    def __init__(self, fd: int, metric: str):
        self._pipe = os.fdopen(fd, "w", buffering=1)
        self.metric = metric

    def _send(self, event: ArmEvent) -> None:
        try:
            self._pipe.write(event.to_line())
        except (BrokenPipeError, ValueError):  # the study process is gone; the arm's own records still hold
            pass

    def trial_result(self, arm: str, trial_id: str, result: dict[str, Any]) -> None:
        if "epoch" in result:
            value = result.get(self.metric)
            value = float(value) if isinstance(value, int | float) else None
            self._send(ArmEvent(RESULT, arm, trial_id, int(result["epoch"]), value))

    def trial_finished(self, arm: str, trial_id: str, status: str, detail: str) -> None:
        self._send(ArmEvent(FINISHED, arm, trial_id, status=status, text=detail))

    def note(self, text: str) -> None:
        self._send(ArmEvent(NOTE, text=text))

    def fail(self, text: str) -> None:
        self._send(ArmEvent(ERROR, text=text))


def replay(event: ArmEvent, display: StudyDisplay) -> str | None:
    """Show one event on the study's display; returns the text of an error event."""
    if event.kind == RESULT:
        result: dict[str, Any] = {"epoch": event.epoch}
        if event.value is not None:
            result[display.metric] = event.value
        display.trial_result(event.arm, event.trial_id, result)
    elif event.kind == FINISHED:
        display.trial_finished(event.arm, event.trial_id, event.status, event.text)
    elif event.kind == NOTE:
        display.note(event.text)
    elif event.kind == ERROR:
        return event.text
    return None
