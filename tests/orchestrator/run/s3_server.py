"""A real S3-protocol server for the object-storage tests: moto's server mode (as Ray's own storage
tests use) on 127.0.0.1, with the environment pointing every process (Ray's too) at it."""

import contextlib
import logging
from collections.abc import Iterator

import pyarrow.fs
import pytest

from orchestrator.run.ports import free_port

BUCKET = "checkpoints"
ACCESS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}


@contextlib.contextmanager
def s3_bucket_on_a_local_server() -> Iterator[pyarrow.fs.S3FileSystem]:
    """An empty bucket ``BUCKET`` on a fresh server; yields a client filesystem for checking objects."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in the test's log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": ACCESS["access_key"],
        "AWS_SECRET_ACCESS_KEY": ACCESS["secret_key"],
        "AWS_DEFAULT_REGION": ACCESS["region"],
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups for credentials
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in settings.items():
                patch.setenv(name, value)
            s3 = pyarrow.fs.S3FileSystem(
                **ACCESS, endpoint_override=f"127.0.0.1:{port}", scheme="http", allow_bucket_creation=True
            )
            s3.create_dir(BUCKET)
            yield s3
    finally:
        server.stop()


def files_under(s3: pyarrow.fs.S3FileSystem, prefix: str) -> list[str]:
    selector = pyarrow.fs.FileSelector(prefix, recursive=True, allow_not_found=True)
    return [info.path for info in s3.get_file_info(selector) if info.type == pyarrow.fs.FileType.File]


def assert_each_trial_checkpointed_in_the_bucket(s3, prefix: str, trial_ids, study) -> None:
    files = files_under(s3, prefix)
    for trial in trial_ids:
        assert any(trial in path and path.endswith("/state.pt") for path in files), (trial, files[:20])
    assert not (study / "train").exists()  # nothing of Ray Train's on the driver's disk
