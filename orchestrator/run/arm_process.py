"""One arm's driver process: ``python -m orchestrator.run.arm_process STUDY ARM --address ...``.

Started by the study process (``arm_pool``), never by hand. It joins the
study's Ray as a Ray job of its own, runs (or restores) the arm's Tune
experiment, and sends its progress as events on the pipe it was given. Its
exit code says how the arm ended: 0 every trial recorded (the study's
process then evaluates the best one, ``evaluations``), 3 stopped unfinished
(resumable), 2 bad input.
"""

import argparse
import json
import sys

from orchestrator.errors import UserError
from orchestrator.run.arm_events import EventWriter
from orchestrator.run.arm_pool import BAD_INPUT, COMPLETE, INCOMPLETE, die_with_parent
from orchestrator.run.display import show_progress_on
from orchestrator.run.storage_health import storage_problem
from orchestrator.study.folder import StudyDir


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="orchestrator.run.arm_process")
    parser.add_argument("study")
    parser.add_argument("arm")
    parser.add_argument("--address", required=True)
    parser.add_argument("--events-fd", type=int, required=True)
    parser.add_argument("--max-concurrent", type=int, required=True)
    parser.add_argument("--space-context", type=json.loads, default=None)  # the arm's, as JSON
    return parser.parse_args(argv)


def run_one_arm(study: StudyDir, arm_id: str, args: argparse.Namespace, events: EventWriter) -> int:
    from orchestrator.run.ray_session import ray_session
    from orchestrator.run.runner import run_arm

    arm = next(arm for arm in study.spec.arms() if arm.id == arm_id)
    with ray_session(args.address, study.logs_dir, arm=arm.id):
        outcome = run_arm(study, arm, args.max_concurrent, args.space_context)
        if outcome.orphaned:
            events.note(f"{arm.id}: moved rows of {len(outcome.orphaned)} trial(s) lost in a crash to results/orphaned")
    return COMPLETE if outcome.complete else INCOMPLETE


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = _arguments(argv)
    study = StudyDir.open(args.study)
    events = EventWriter(args.events_fd, study.spec.metric)
    show_progress_on(events)
    try:
        return run_one_arm(study, args.arm, args, events)
    except KeyboardInterrupt:
        return INCOMPLETE
    except UserError as error:
        events.fail(str(error))
        return BAD_INPUT
    except Exception:
        if problem := storage_problem(study.root):  # full or read-only storage: one line, not Ray's traceback
            events.fail(str(problem))
            return BAD_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
