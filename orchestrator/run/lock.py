"""One driver per study, across machines sharing the storage: ``state/driver.lock``.

The lock file is created atomically (``O_CREAT | O_EXCL``, atomic on local filesystems and NFS v3+)
and names its holder: host, pid and when it started. While the driver runs, a thread touches the
file every ``HEARTBEAT_S``. A lock is stale, and taken over, when its holder is on this host and its
process is gone, or when it is on another host and has not been touched for ``STALE_AFTER_S`` (a
SIGKILLed driver there cannot remove it; a live one keeps touching it).
"""

import atexit
import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.run.storage_health import raise_if_unwritable
from orchestrator.study.folder import StudyDir

HEARTBEAT_S = 20.0
STALE_AFTER_S = 120.0


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: float

    @classmethod
    def me(cls) -> "Holder":
        return cls(socket.gethostname(), os.getpid(), time.time())


def lock_path(study: StudyDir) -> Path:
    return study.root / "state" / "driver.lock"


def _alive_here(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def is_stale(holder: Holder | None, touched: float, now: float, host: str) -> bool:
    if holder is None:
        return now - touched > STALE_AFTER_S  # unreadable: half-written by a driver killed at once
    if holder.host == host:
        return not _alive_here(holder.pid)
    return now - touched > STALE_AFTER_S


def _read(path: Path) -> tuple[Holder | None, float]:
    touched = path.stat().st_mtime
    try:
        return Holder(**json.loads(path.read_text())), touched
    except (ValueError, TypeError):
        return None, touched


def _create(path: Path, holder: Holder) -> bool:
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(holder), file)
    return True


def acquire(path: Path, holder: Holder) -> None:
    """Take the lock or raise the one-line refusal naming who holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):  # another driver may take over a stale lock between our steps
        if _create(path, holder):
            return
        try:
            other, touched = _read(path)
        except FileNotFoundError:
            continue
        if other == holder:
            return
        if not is_stale(other, touched, time.time(), holder.host):
            who = f"process {other.pid} on {other.host}" if other else "another driver"
            raise UserError(f"study {path.parent.parent} is already being run by {who}; wait for it or stop it first")
        path.unlink(missing_ok=True)
    raise UserError(f"could not take the lock {path}: other drivers keep taking it; retry in a minute")


def release(path: Path, holder: Holder) -> None:
    try:
        mine = _read(path)[0] == holder
    except FileNotFoundError:
        return
    if mine:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # read-only storage: the lock stays, and is stale once this process is gone


def _keep_touching(path: Path, holder: Holder, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            os.utime(path)
        except OSError:
            return  # storage gone or read-only: the driver's own writes will fail and say so


def claim_driver(study: StudyDir) -> None:
    """Hold the study's lock for the rest of this process (released at exit, kept fresh meanwhile)."""
    path, holder, stop = lock_path(study), Holder.me(), threading.Event()
    raise_if_unwritable(study.root)  # resumed on full or read-only storage: say so, change nothing
    acquire(path, holder)
    threading.Thread(target=_keep_touching, args=(path, holder, stop), daemon=True, name="study-lock").start()
    atexit.register(lambda: (stop.set(), release(path, holder)))
