"""The study's live progress in the terminal (rich): one bar per arm, a line per finished trial.

In the study's process only; its arms' drivers send their progress as events (``arm_events``),
which this display shows. Tune is not imported here: the study's process runs no Tune.
"""

import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from trainables.direction import Direction

_display = None  # the StudyDisplay of this process, or what stands in for it (an arm's EventWriter)


def show_progress_on(display) -> None:
    """Send this process's Tune progress callbacks to ``display`` (None: nowhere)."""
    global _display
    _display = display


def current_display():
    return _display


class StudyDisplay:
    def __init__(self, console: Console, metric: str, direction: Direction, epochs: int):
        self.console, self.metric, self.direction, self.epochs = console, metric, direction, epochs
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("trials"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, Any] = {}
        self.best: dict[str, float] = {}
        self.epoch_of: dict[str, dict[str, int]] = {}

    def __enter__(self) -> "StudyDisplay":
        self.progress.start()
        show_progress_on(self)
        return self

    def __exit__(self, *exc) -> None:
        show_progress_on(None)
        self.progress.stop()

    def add_arm(self, arm: str, budget: int, finished: int, best: float | None) -> None:
        self.tasks[arm] = self.progress.add_task(arm, total=budget, completed=finished)
        self.epoch_of[arm] = {}
        if best is not None and not math.isnan(best):
            self.best[arm] = best
        self._refresh(arm)

    def _refresh(self, arm: str) -> None:
        running = self.epoch_of[arm]
        parts = [f"[bold]{arm}[/]"]
        if running:
            parts.append(f"running {len(running)} · epoch {max(running.values())}/{self.epochs}")
        if arm in self.best:
            parts.append(f"best {self.metric} {self.best[arm]:.4f}")
        self.progress.update(self.tasks[arm], description="  ".join(parts))

    def trial_result(self, arm: str, trial_id: str, result: dict[str, Any]) -> None:
        if arm not in self.tasks or "epoch" not in result:
            return
        self.epoch_of[arm][trial_id] = result["epoch"]
        value = result.get(self.metric)
        if self.direction.better(value, self.best.get(arm)):
            self.best[arm] = value
        self._refresh(arm)

    def note(self, text: str) -> None:
        self.console.log(text)

    def trial_finished(self, arm: str, trial_id: str, status: str, detail: str) -> None:
        if arm not in self.tasks:
            return
        self.epoch_of[arm].pop(trial_id, None)
        self.progress.advance(self.tasks[arm])
        self._refresh(arm)
        colour = {"completed": "green", "pruned": "yellow"}.get(status, "red")
        self.console.log(f"[{colour}]{status:9}[/] {arm} trial {trial_id}  {detail}")
