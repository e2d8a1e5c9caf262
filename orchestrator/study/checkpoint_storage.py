"""The spec's ``checkpoint_storage``, checked before a study starts: reachable and writable from here,
and, for a new study, not already holding trial runs of a study of the same name (whose checkpoints
a trial of this one would then restore)."""

import pyarrow
import pyarrow.fs

from orchestrator.errors import UserError, first_line
from orchestrator.study.spec import StudySpec
from trainables import storage

PROBE = ".write-probe"


def check_checkpoint_storage(spec: StudySpec, new_study: bool) -> None:
    location = spec.checkpoint_storage
    if not location:
        return
    study_location = storage.join(location, spec.name)
    try:
        fs, study_path = storage.filesystem(study_location)  # resolved once: for S3 it asks the bucket's region
        if new_study and fs.get_file_info(pyarrow.fs.FileSelector(f"{study_path}/train", allow_not_found=True)):
            raise UserError(
                f"{study_location}/train already holds trial runs of a study named {spec.name!r}; rename the "
                "study (`name:`) or give another checkpoint_storage"
            )
        storage.write_text_on(fs, f"{study_path}/{PROBE}", "orchestrate checks that it can write here\n")
        fs.delete_file(f"{study_path}/{PROBE}")
    except (OSError, ValueError, pyarrow.ArrowException) as error:
        reason = first_line(error)
        raise UserError(
            f"checkpoint_storage {location} cannot be used: {reason}; check the URI, that the bucket exists, "
            "and the credentials (an instance role or AWS_* variables)"
        ) from None
