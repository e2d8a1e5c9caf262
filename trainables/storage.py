"""Where Ray Train keeps a study's trial runs: a folder (local or on a shared filesystem), or an
object-store URI (``s3://bucket/prefix``, ``gs://...``) that every node of a cluster reaches.

Read and written through ``pyarrow.fs``, as Ray's own storage is, so the same credentials and
endpoint settings (``AWS_ENDPOINT_URL``, an instance role, ...) serve both. No torch here: the trial
actor and the final evaluation's worker import it before any model code. pyarrow is imported when a
file is read or written (about 0.1 s): the final evaluation's worker, given a local checkpoint
folder, never loads it.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs


def is_uri(location: str) -> bool:
    return "://" in location


def join(location: str, *parts: str) -> str:
    return "/".join([str(location).rstrip("/"), *parts])


def filesystem(location: str) -> tuple["pyarrow.fs.FileSystem", str]:
    """The filesystem holding ``location`` and the path within it."""
    import pyarrow.fs

    if is_uri(location):
        return pyarrow.fs.FileSystem.from_uri(location)
    return pyarrow.fs.LocalFileSystem(), str(Path(location).resolve())


def read_text(location: str) -> str:
    fs, path = filesystem(location)
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def write_text(location: str, text: str) -> None:
    write_text_on(*filesystem(location), text)


def write_text_on(fs: "pyarrow.fs.FileSystem", path: str, text: str) -> None:
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as stream:
        stream.write(text.encode())


@contextmanager
def local_copy(location: str) -> Iterator[Path]:
    """A folder on this machine with what ``location`` holds: the folder itself, or a download of it
    (removed afterwards) when it is in an object store."""
    if not is_uri(location):
        yield Path(location)
        return
    import pyarrow.fs

    with tempfile.TemporaryDirectory(prefix="checkpoint-") as directory:
        fs, path = filesystem(location)
        pyarrow.fs.copy_files(path, directory, source_filesystem=fs)
        yield Path(directory)
