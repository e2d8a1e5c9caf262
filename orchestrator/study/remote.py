"""Study folders in an object store, for the commands that only read them (compare, plot, status).

A study folder copied to a bucket (``aws s3 sync runs/ s3://lab/runs/``, say, to share it with
co-authors) is read through ``pyarrow.fs``, as Ray's own storage is, with the same credentials and
endpoint settings. What the reports read (the spec, results, state, splits and published numbers;
not the Tune experiments, checkpoints or logs) is downloaded to a temporary folder for the one
command, then read like any other study.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import UserError, first_line
from orchestrator.study.folder import SPEC_FILE, StudyDir
from orchestrator.study.mirror import download, open_uri
from trainables import storage

# Folders no report reads: the Tune experiments, checkpoints and Ray's logs (prefixes of a path in the study).
NOT_READ = ("arms/", "train/", "logs/")


@contextmanager
def opened_studies(locations: list[str]) -> Iterator[list[StudyDir]]:
    """Each location (a study folder, or its URI in an object store) opened as a StudyDir."""
    with tempfile.TemporaryDirectory(prefix="orchestrate-studies-") as scratch:
        opened = []
        for index, location in enumerate(locations):
            if storage.is_uri(location):
                fetched = _download(location, Path(scratch) / str(index))
                opened.append(StudyDir(fetched, shown_as=location))
            else:
                opened.append(StudyDir.open(location))
        yield opened


def _download(uri: str, into: Path) -> Path:
    fs, root = open_uri(uri)
    root = root.rstrip("/")
    local = into / root.rsplit("/", 1)[-1]
    try:
        download(fs, root, local, NOT_READ)
    except OSError as error:
        raise UserError(f"could not read {uri} ({first_line(error)}); check the URI and the credentials") from None
    if not (local / SPEC_FILE).is_file():
        raise UserError(f"{uri} is not a study folder (no {SPEC_FILE}); give <storage URI>/<study name>")
    return local
