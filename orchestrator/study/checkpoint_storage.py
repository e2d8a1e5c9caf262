"""The spec's ``checkpoint_storage``, checked before a study starts: reachable and writable from here,
and, for a new study, not already holding trial runs of a study of the same name (whose checkpoints
a trial of this one would then restore)."""

import pyarrow
import pyarrow.fs

from orchestrator.errors import UserError
from orchestrator.study.spec import StudySpec
from trainables import storage

PROBE = ".write-probe"


def check_checkpoint_storage(spec: StudySpec, new_study: bool) -> None:
    location = spec.checkpoint_storage
    if not location:
        return
    runs = storage.join(location, spec.name, "train")
    try:
        fs, path = storage.filesystem(runs)
        if new_study and fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True)):
            raise UserError(
                f"{runs} already holds trial runs of a study named {spec.name!r}; rename the study (`name:`) "
                "or give another checkpoint_storage"
            )
        probe = storage.join(location, spec.name, PROBE)
        storage.write_text(probe, "orchestrate checks that it can write here\n")
        fs.delete_file(storage.filesystem(probe)[1])
    except (OSError, ValueError, pyarrow.ArrowException) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"checkpoint_storage {location} cannot be used: {reason}; check the URI, that the bucket exists, "
            "and the credentials (an instance role or AWS_* variables)"
        ) from None
