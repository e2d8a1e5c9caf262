"""Is the study's storage still writable? Asked when something failed, to say so in one line.

A full disk, a filesystem turned read-only, or revoked permissions make every
write fail somewhere deep in Ray, Optuna or pyarrow, each with its own
traceback. Every write of the study is atomic (a temporary name, then a
rename) or an append, so what was recorded before stays intact; the user only
needs to know which storage failed and how to continue.
"""

import errno
import os
from pathlib import Path

from orchestrator.errors import UserError

PROBE = ".write-probe"


def unwritable_reason(root: Path) -> str | None:
    """Why a small file cannot be written and synced under ``root``, or None when it can."""
    probe = Path(root) / "state" / PROBE
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as file:
            file.write(b"ok")
            file.flush()
            os.fsync(file.fileno())
        probe.unlink()
    except OSError as error:
        return error.strerror or errno.errorcode.get(error.errno or 0, str(error))
    return None


def storage_error(root: Path, reason: str) -> UserError:
    return UserError(
        f"storage {root} is not writable ({reason}); what the study recorded before is intact. "
        f"Free space or make it writable, then `orchestrate resume {root}`"
    )


def storage_problem(root: Path) -> UserError | None:
    """The one-line error for storage under ``root`` that cannot be written, or None when it can."""
    reason = unwritable_reason(root)
    return storage_error(root, reason) if reason else None


def raise_if_unwritable(root: Path) -> None:
    if problem := storage_problem(root):
        raise problem
