"""A study kept in an object store (``storage: s3://bucket/runs``): the driver works on a local
copy and pushes it there.

Ray Train writes the trials' checkpoints straight to ``<uri>/train`` (every node reaches the
bucket). The study's records and settings (spec, splits, Parquet, Optuna journal, state, logs) are
written by the driver's node into a working copy under ``~/.cache/orchestrate/studies``
(``ORCHESTRATE_CACHE``) and pushed to the bucket every ``PUSH_EVERY_S`` seconds and when the driver
stops. Tune's experiments stay in the working copy: they name its paths. Each push ends by writing
``state/pushed.json`` (a count) there and here. A later ``resume`` on this machine keeps the working
copy when it is the bucket's latest plus what a killed driver had not pushed yet, and restores Tune
from it as on a local disk; anywhere else (or once the study went on elsewhere) it downloads the
bucket's records, and each unfinished arm continues from them as after a lost Tune state: recorded
trials stay, the rest of the budget runs in a new Tune experiment, and trials that had not been
recorded (pushed) yet run again.
The driver's lock is kept in the bucket too, re-written at each push, so a driver on another machine
sees it (stale once a push interval plus the lock's ``STALE_AFTER_S`` have passed without one).
"""

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs

from orchestrator.errors import UserError, first_line
from orchestrator.run.lock import Holder, is_stale
from orchestrator.study.folder import OPTUNA_JOURNAL, SPEC_FILE
from trainables import storage

PUSH_EVERY_S = 5.0
PUSHED = "state/pushed.json"
LOCK = "state/driver.lock"
# Ray Train's own; Tune's experiments (they name this machine's paths: elsewhere, an arm continues from
# the study's records, as after a lost Tune state); a link; the two written apart.
NOT_PUSHED = ("train/", "arms/", "logs/ray-session", PUSHED, LOCK)
# The Optuna journal (OPTUNA_JOURNAL). Optuna is told how a trial ended only after its rows are
# written, so each push reads the journal before listing the rows and uploads it after them: the
# bucket never holds a journal ahead of its rows (there, a kill mid-push left Optuna a finished trial
# whose row never went up, and a resume elsewhere ran it again under a new id).


def open_uri(uri: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """The object store holding ``uri`` and the path in it; one line naming the problem where it cannot be."""
    try:
        return storage.filesystem(uri)
    except (OSError, ValueError) as error:  # an unknown scheme, a bucket whose region cannot be asked
        raise UserError(
            f"could not open {uri} ({first_line(error)}); give s3://BUCKET/... or gs://... and check the credentials"
        ) from None


def download(fs: pyarrow.fs.FileSystem, remote: str, local: Path, skipped: tuple[str, ...]) -> None:
    """Every file under ``remote`` into ``local``, but those whose path in it starts with one of ``skipped``."""
    for info in fs.get_file_info(pyarrow.fs.FileSelector(remote, recursive=True, allow_not_found=True)):
        rel = info.path[len(remote) + 1 :]
        if info.type == pyarrow.fs.FileType.File and not rel.startswith(skipped):
            target = local / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(info.path) as stream:
                target.write_bytes(stream.read())


def working_copies() -> Path:
    return Path(os.environ.get("ORCHESTRATE_CACHE", Path.home() / ".cache" / "orchestrate")) / "studies"


@dataclass
class StudyMirror:
    uri: str  # <storage URI>/<study name>
    local: Path  # the working copy
    fs: pyarrow.fs.FileSystem
    remote: str  # the study's path on fs
    pushed: dict[str, tuple[int, int]] = field(default_factory=dict)  # file -> (size, mtime_ns) last pushed
    count: int = 0
    lock: bytes | None = None  # the lock this driver holds, as written to the bucket

    @classmethod
    def at(cls, uri: str) -> "StudyMirror":
        uri = uri.rstrip("/")
        fs, remote = open_uri(uri)
        digest = hashlib.sha256(uri.encode()).hexdigest()[:12]
        return cls(uri, working_copies() / digest / uri.rsplit("/", 1)[-1], fs, remote.rstrip("/"))

    def exists(self) -> bool:
        return self._info(SPEC_FILE).type == pyarrow.fs.FileType.File

    def start_new(self) -> None:
        """For `run`: refused if the bucket has the study; an old working copy of that name is dropped."""
        if self.exists():
            raise UserError(f"study already exists at {self.uri}; continue it with `orchestrate resume {self.uri}`")
        shutil.rmtree(self.local, ignore_errors=True)

    def start_resume(self) -> None:
        """For `resume`: keep this machine's copy if it descends from the bucket's latest push, else download."""
        if not self.exists():
            raise UserError(f"{self.uri} is not a study (no {SPEC_FILE}); give <storage URI>/<study name>")
        self.count = _count(self._read(PUSHED)) if self._info(PUSHED).type == pyarrow.fs.FileType.File else -1
        here = self.local / PUSHED
        if not (here.is_file() and _count(here.read_bytes()) == self.count):
            shutil.rmtree(self.local, ignore_errors=True)
            download(self.fs, self.remote, self.local, NOT_PUSHED)
            self.pushed = {rel: _stamp(path) for rel, path in self._local_files()}

    def claim(self) -> None:
        """Refuse while a live driver elsewhere holds the study; then hold it in the bucket too."""
        info = self._info(LOCK)
        if info.type == pyarrow.fs.FileType.File:
            try:
                holder = Holder(**json.loads(self._read(LOCK)))
            except (ValueError, TypeError):
                holder = None
            touched = info.mtime.timestamp() if info.mtime else 0.0
            if not is_stale(holder, touched, time.time() - PUSH_EVERY_S, socket.gethostname()):
                where = f"{holder.host} (pid {holder.pid})" if holder else "another driver"
                raise UserError(f"study {self.uri} is being run by {where}; wait for it, or stop it first")
        self.lock = json.dumps(dataclasses.asdict(Holder.me())).encode()
        self._write(LOCK, self.lock)

    def release(self) -> None:
        """Give the bucket's lock up (a driver that stops before it ran anything)."""
        if self.lock:
            self.fs.delete_file(f"{self.remote}/{LOCK}")
            self.lock = None

    def push(self, final: bool = False) -> None:
        """Upload what changed since the last push, delete what is gone, then count the push. The logs,
        appended to all the time, go up with the final push only; the Optuna journal goes up last, as
        read before the rows were listed (``OPTUNA_JOURNAL``)."""
        journal = self._journal_as_now()
        for _ in range(3):
            files = {rel: path for rel, path in self._local_files() if final or not rel.startswith("logs/")}
            files.pop(OPTUNA_JOURNAL, None)
            if self._upload_changed(files):
                self._delete_gone({*files, OPTUNA_JOURNAL}, final)
                break
        if journal is not None and self.pushed.get(OPTUNA_JOURNAL) != journal[0]:
            self._write(OPTUNA_JOURNAL, journal[1])
            self.pushed[OPTUNA_JOURNAL] = journal[0]
        if self.lock:
            self._write(LOCK, self.lock)  # its time is the heartbeat another machine reads
        self.count += 1
        marker = json.dumps({"count": self.count}).encode()
        self._write(PUSHED, marker)
        (self.local / PUSHED).write_bytes(marker)

    def _upload_changed(self, files: dict[str, Path]) -> bool:
        """Upload the files that changed; False if one vanished meanwhile (renamed or compacted away: what
        replaced it was written first, so a fresh listing has it)."""
        for rel in sorted(files):
            try:
                stamp = _stamp(files[rel])
                if self.pushed.get(rel) != stamp:
                    self._write(rel, files[rel].read_bytes())
                    self.pushed[rel] = stamp
            except FileNotFoundError:
                return False
        return True

    def _journal_as_now(self) -> tuple[tuple[int, int], bytes] | None:
        """The Optuna journal's stamp and bytes at this moment, or None before Optuna wrote one."""
        path = self.local / OPTUNA_JOURNAL
        try:
            return _stamp(path), path.read_bytes()
        except FileNotFoundError:
            return None

    def _delete_gone(self, files: set[str], final: bool) -> None:
        """Delete from the bucket what is gone here, judged by a listing whose every file is up there."""
        for rel in [rel for rel in self.pushed if rel not in files and (final or not rel.startswith("logs/"))]:
            self.fs.delete_file(f"{self.remote}/{rel}")
            del self.pushed[rel]

    @contextmanager
    def pushing(self) -> Iterator[None]:
        """Push every PUSH_EVERY_S while the driver runs, and once more (then release the lock) at the end."""
        stop = threading.Event()
        thread = threading.Thread(target=self._keep_pushing, args=(stop,), daemon=True, name="study-push")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self._final_push()

    def _keep_pushing(self, stop: threading.Event) -> None:
        while not stop.wait(PUSH_EVERY_S):
            try:
                self.push()
            except OSError:
                pass  # the bucket did not answer this time: the next push sends it all

    def _final_push(self) -> None:
        try:
            self.push(final=True)
            self.release()
        except OSError as error:
            raise UserError(
                f"could not push the study to {self.uri} ({first_line(error)}); its local copy at {self.local} "
                f"is intact: fix the storage, then `orchestrate resume {self.uri}` on this machine"
            ) from None

    def _local_files(self) -> Iterator[tuple[str, Path]]:
        for path in sorted(self.local.rglob("*")):
            rel = path.relative_to(self.local).as_posix()
            hidden = path.name.startswith(".")  # a temporary name, renamed into place when complete
            if path.is_file() and not path.is_symlink() and not hidden and not rel.startswith(NOT_PUSHED):
                yield rel, path

    def _info(self, rel: str) -> pyarrow.fs.FileInfo:
        return self.fs.get_file_info(f"{self.remote}/{rel}")

    def _read(self, rel: str) -> bytes:
        with self.fs.open_input_stream(f"{self.remote}/{rel}") as stream:
            return stream.read()

    def _write(self, rel: str, data: bytes) -> None:
        with self.fs.open_output_stream(f"{self.remote}/{rel}") as stream:
            stream.write(data)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _count(marker: bytes) -> int:
    try:
        return int(json.loads(marker)["count"])
    except (ValueError, KeyError, TypeError):
        return -1
