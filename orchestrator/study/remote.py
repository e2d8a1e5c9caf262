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

import pyarrow.fs

from orchestrator.errors import UserError
from orchestrator.study.folder import SPEC_FILE, StudyDir
from trainables import storage

NOT_READ = ("arms", "train", "logs")  # the Tune experiments, checkpoints and Ray's logs: no report reads them


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
    fs, root = _listable(uri)
    root = root.rstrip("/")
    local = into / root.rsplit("/", 1)[-1]
    try:
        files = fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True))
        for info in files:
            relative = info.path[len(root) + 1 :]
            if info.type != pyarrow.fs.FileType.File or relative.split("/", 1)[0] in NOT_READ:
                continue
            target = local / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(info.path) as source:
                target.write_bytes(source.read())
    except OSError as error:
        raise UserError(f"could not read {uri} ({_first_line(error)}); check the URI and the credentials") from None
    if not (local / SPEC_FILE).is_file():
        raise UserError(f"{uri} is not a study folder (no {SPEC_FILE}); give <storage URI>/<study name>")
    return local


def _listable(uri: str) -> tuple[pyarrow.fs.FileSystem, str]:
    try:
        return storage.filesystem(uri)
    except (OSError, ValueError) as error:  # an unknown scheme, a bucket whose region cannot be asked
        raise UserError(f"could not open {uri} ({_first_line(error)}); give s3://BUCKET/... or gs://...") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
