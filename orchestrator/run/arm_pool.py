"""Every unfinished arm of a study in flight at once, each in a driver process of its own.

Why one process (one Ray job) per arm: Ray Tune does not support several
Tune runs in one job (its FAQ: not tested, and trainables registered under
one name collide), while separate Ray jobs are isolated. Each arm keeps its
own Tune experiment, TPE history and checkpoints exactly as a lone arm
would, so resume, Ctrl-C and status behave as before. The study process
starts (or joins) Ray, gives each arm its share of the study-wide cap on
trials in flight, shows the arms' progress events, runs each arm's final
evaluation once its driver has recorded every trial (``evaluations``), and
forwards Ctrl-C and SIGTERM to the arms; an arm process dies with it (so a
killed study leaves no arm running on its own).
"""

import json
import math
import os
import selectors
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from orchestrator.errors import UserError
from orchestrator.run.arm_events import ArmEvent, replay
from orchestrator.run.display import StudyDisplay
from orchestrator.run.evaluations import FinalEvaluations
from orchestrator.study.checks import space_context
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm, StudySpec

COMPLETE, INCOMPLETE, BAD_INPUT = 0, 3, 2  # an arm process's exit codes (COMPLETE: every trial recorded)


def study_trial_slots(spec: StudySpec) -> int:
    """The study-wide cap on trials in flight: the spec's, else as many trials as the cluster holds at once."""
    if spec.budget.max_concurrent_trials_total:
        return spec.budget.max_concurrent_trials_total
    import ray

    total = ray.cluster_resources()
    resources = spec.resources
    fits = [math.floor(total.get("CPU", 0) / (resources.workers * resources.cpus_per_worker))]
    if resources.gpus_per_worker:
        fits.append(math.floor(total.get("GPU", 0) / (resources.workers * resources.gpus_per_worker)))
    return max(1, min(fits))


@dataclass
class ConcurrencyCaps:
    """Splits the study-wide cap among arms, at most ``per_arm`` each, so that as many arms run as fit."""

    per_arm: int
    total: int
    in_use: int = 0

    def shares(self, waiting: int) -> list[int]:
        """Caps for the arms to start now (as many of the ``waiting`` arms as the free slots allow)."""
        free = self.total - self.in_use
        starting = min(waiting, free)
        if starting <= 0:
            return []
        shares = [min(self.per_arm, free // starting + (i < free % starting)) for i in range(starting)]
        self.in_use += sum(shares)
        return shares

    def release(self, share: int) -> None:
        self.in_use -= share


@dataclass
class ArmProcess:
    arm: Arm
    share: int
    process: subprocess.Popen
    events: int  # the read end of its event pipe
    pending: bytes = b""
    error: str | None = None


@dataclass
class ArmPool:
    study: StudyDir
    ray_address: str
    display: StudyDisplay
    caps: ConcurrencyCaps
    running: list[ArmProcess] = field(default_factory=list)
    stopping: bool = False  # interrupted: no more arms start
    unfinished: int = 0
    failures: list[str] = field(default_factory=list)
    evaluations: FinalEvaluations = field(init=False)

    def __post_init__(self) -> None:
        self.evaluations = FinalEvaluations(self.study, self.display)

    def run(self, arms: list[Arm]) -> bool:
        """Run the arms to the end; False if any stopped unfinished (interrupted, or an arm process failed)."""
        waiting = list(arms)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        selector = selectors.DefaultSelector()
        try:
            # Once stopping, arms still waiting stay unstarted (counted by the return value below).
            while (waiting and not self.stopping) or self.running or self.evaluations.in_flight:
                if not self.stopping:
                    for share in self.caps.shares(len(waiting)):
                        self._start(waiting.pop(0), share, selector)
                self._read_events(selector, timeout=0.5)
                self._reap(selector)
                self.evaluations.collect(timeout=0 if self.running else 0.5)
                if self.stopping:
                    self.unfinished += self.evaluations.cancel()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._kill_all()
        self.failures += self.evaluations.failures
        if self.failures:
            raise UserError("; ".join(dict.fromkeys(self.failures)))  # arms failing alike say it once
        return not (self.stopping or waiting or self.unfinished)

    def _start(self, arm: Arm, share: int, selector: selectors.BaseSelector) -> None:
        read_end, write_end = os.pipe()
        log = open(self.study.logs_dir / f"arm-{arm.id}.out", "ab")  # noqa: SIM115 - the child holds it
        command = [sys.executable, "-m", "orchestrator.run.arm_process", str(self.study.root), arm.id]
        command += ["--address", self.ray_address, "--events-fd", str(write_end), "--max-concurrent", str(share)]
        command += ["--space-context", json.dumps(space_context(arm))]  # worked out here: torch is loaded
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            start_new_session=True,  # signals reach it through this process only, in order
        )
        log.close()
        os.close(write_end)
        selector.register(read_end, selectors.EVENT_READ, data=None)
        self.running.append(ArmProcess(arm, share, process, read_end))

    def _read_events(self, selector: selectors.BaseSelector, timeout: float) -> None:
        if not self.running:
            return
        for key, _ in selector.select(timeout):
            child = next(c for c in self.running if c.events == key.fd)
            self._drain(child, selector)

    def _drain(self, child: ArmProcess, selector: selectors.BaseSelector) -> bool:
        """Reads what the arm wrote; True when its pipe is closed."""
        chunk = os.read(child.events, 1 << 16)
        *lines, child.pending = (child.pending + chunk).split(b"\n")
        for line in lines:
            error = replay(ArmEvent.from_line(line.decode()), self.display)
            child.error = error or child.error
        if chunk:
            return False
        selector.unregister(child.events)
        os.close(child.events)
        child.events = -1
        return True

    def _reap(self, selector: selectors.BaseSelector) -> None:
        for child in [c for c in self.running if c.process.poll() is not None]:
            while child.events >= 0 and not self._drain(child, selector):
                pass
            self.running.remove(child)
            self.caps.release(child.share)
            self._judge(child)

    def _judge(self, child: ArmProcess) -> None:
        """An arm that stopped unfinished leaves the study unfinished; the other arms go on."""
        code = child.process.returncode
        if code == COMPLETE:  # every trial recorded: evaluate, unless stopping (then resume evaluates it)
            if self.stopping:
                self.unfinished += 1
            else:
                self.evaluations.start(child.arm)
            return
        self.unfinished += 1
        if code == BAD_INPUT and child.error:
            self.failures.append(child.error)
        elif code != INCOMPLETE and not self.stopping:
            log = self.study.logs_dir / f"arm-{child.arm.id}.out"
            self.failures.append(f"arm {child.arm.id} stopped with exit code {code}; see {log}, then resume")

    def _stop(self, signum, frame) -> None:
        """Ctrl-C or SIGTERM: every arm saves its state and stops (a second one stops them at once)."""
        self.stopping = True
        for child in self.running:
            _signal(child.process, signal.SIGINT)

    def _kill_all(self) -> None:
        for child in self.running:
            _signal(child.process, signal.SIGKILL)
            child.process.wait()
        try:
            self.evaluations.cancel()
        except Exception:  # Ray may be gone already (why we got here); its tasks with it
            pass


def _signal(process: subprocess.Popen, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass


def die_with_parent() -> None:
    """Linux: the kernel kills this process when the study process dies (e.g. ``kill -9``)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the call
            os._exit(INCOMPLETE)
