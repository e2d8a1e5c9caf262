"""The arms' final evaluations, started by the study's process as each arm's driver ends with every
trial recorded, and recorded there when their Ray tasks finish (the arms still training go on).

Why here and not in each arm's driver: an arm is a Ray job of its own, and Ray reuses a worker
process only within one job. Submitted from the study's job, every evaluation after the first
finds an idle worker with torch, the model code and smp's encoders already imported (about
3 CPU-s each that a fresh worker spends on imports). A GPU task gets a fresh worker every time
(``max_calls=1``, final_evaluation.py), which hands the GPU's memory back to the trials.
"""

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import ray

from orchestrator.errors import UserError
from orchestrator.run.display import StudyDisplay
from orchestrator.run.final_evaluation import StartedEvaluation, record_evaluation, start_evaluation
from orchestrator.run.storage_health import storage_problem
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm


@dataclass
class FinalEvaluations:
    study: StudyDir
    display: StudyDisplay
    in_flight: list[StartedEvaluation] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line each, for the study's error

    def start(self, arm: Arm) -> None:
        """Evaluate the arm's best trial (unless that was recorded before a crash); the arm is done
        once its rows are written."""
        if self.study.results.evaluated(arm.id):
            self.study.mark_done(arm.id)
            return
        self.display.note(f"{arm.id}: evaluating the best trial on held-out data")
        try:
            started = start_evaluation(self.study, arm)
        except Exception as error:  # one arm's failure: the other arms go on
            self._failed(arm, error)
            return
        if started is None:  # no trial has a checkpoint to evaluate
            self.study.mark_done(arm.id)
        else:
            self.in_flight.append(started)

    def collect(self, timeout: float) -> None:
        """Record the evaluations that have finished, waiting up to ``timeout`` seconds for them."""
        if not self.in_flight:
            return
        tasks = [started.task for started in self.in_flight]
        ready, _ = ray.wait(tasks, num_returns=len(tasks), timeout=timeout)
        for started in [s for s in self.in_flight if s.task in ready]:
            self.in_flight.remove(started)
            self._finish(started)

    def _finish(self, started: StartedEvaluation) -> None:
        arm = started.arm
        try:
            summary = record_evaluation(self.study, started, ray.get(started.task))
        except Exception as error:  # the task's error, or writing its rows: the arm stays undone
            self._failed(arm, error)
            return
        self.display.note(f"{arm.id}: {summary['eval_split']} mIoU {summary['test_miou']:.4f}")
        self.study.mark_done(arm.id)

    def _failed(self, arm: Arm, error: Exception) -> None:
        """One line for the study's error: bad input or full storage as such, else the cause and its log."""
        if isinstance(error, UserError):
            self.failures.append(f"arm {arm.id}: {error}")
        elif problem := storage_problem(self.study.root):
            self.failures.append(str(problem))
        else:
            log = _write_error(self.study.logs_dir, arm.id, error)
            self.failures.append(
                f"arm {arm.id}: its final evaluation failed ({_reason(error)}); see {log}, then resume"
            )

    def cancel(self) -> int:
        """Stop the evaluations in flight (their arms stay undone: resume evaluates them); how many."""
        for started in self.in_flight:
            ray.cancel(started.task, force=True)
        stopped, self.in_flight = len(self.in_flight), []
        return stopped


def _reason(error: Exception) -> str:
    """``Type: last line of its message`` of what the task raised (Ray wraps it as the error's cause)."""
    cause = getattr(error, "cause", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[-1]}" if lines else type(cause).__name__


def _write_error(logs_dir: Path, arm_id: str, error: Exception) -> Path:
    """The whole traceback: the task's as Ray gives it (less its terminal colours), or this process's."""
    log = logs_dir / f"evaluation-{arm_id}.log"
    text = str(error) if isinstance(error, ray.exceptions.RayError) else "".join(traceback.format_exception(error))
    log.write_text(re.sub(r"\x1b\[[0-9;]*m", "", text) + "\n")
    return log
