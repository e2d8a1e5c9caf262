"""One driver per study: a pid file under the study's ``state/`` folder."""

import os

from orchestrator.errors import UserError
from orchestrator.study.folder import StudyDir


def claim_driver(study: StudyDir) -> None:
    """Refuse to drive a study that a live process is already driving."""
    pid_file = study.root / "state" / "driver.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        other = int(pid_file.read_text())
        if other != os.getpid():
            os.kill(other, 0)  # raises if that process is gone
            raise UserError(f"study {study.root} is already being run by process {other}; wait for it or stop it first")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass
    pid_file.write_text(str(os.getpid()))
