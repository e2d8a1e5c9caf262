import pytest

from tests.orchestrator.run.s3_server import s3_bucket_on_a_local_server


@pytest.fixture(scope="module")
def s3_bucket():
    """An empty bucket on a moto S3 server started for the module (see s3_server.py)."""
    with s3_bucket_on_a_local_server() as s3:
        yield s3
