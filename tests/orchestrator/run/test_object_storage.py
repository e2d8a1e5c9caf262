"""Trial checkpoints in an object store (issue 12), refused in one line when the bucket cannot take
them. That a study with its checkpoints in a bucket survives kills and resumes its trials from the
bucket: test_resume.py, whose study keeps its checkpoints on the same kind of server."""

from tests.conftest import orchestrate, tiny_spec
from tests.orchestrator.run.s3_server import BUCKET


def test_a_missing_bucket_is_refused_before_the_study_exists(s3_bucket, tmp_path, write_spec):
    spec = write_spec(tiny_spec("nobucket", checkpoint_storage="s3://no-such-bucket/runs"))
    result = orchestrate("run", spec, "--storage", tmp_path / "runs", timeout=120)
    assert result.returncode == 2 and "checkpoint_storage s3://no-such-bucket/runs" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_study_name_already_in_the_bucket_is_refused(s3_bucket, tmp_path, write_spec):
    s3_bucket.create_dir(f"{BUCKET}/taken/used/train/an-earlier-run")
    with s3_bucket.open_output_stream(f"{BUCKET}/taken/used/train/an-earlier-run/state.pt") as stream:
        stream.write(b"an earlier study's checkpoint")
    spec = write_spec(tiny_spec("used", checkpoint_storage=f"s3://{BUCKET}/taken"))
    result = orchestrate("run", spec, "--storage", tmp_path / "runs", timeout=120)
    assert result.returncode == 2 and "already holds trial runs of a study named 'used'" in result.stderr
    assert not (tmp_path / "runs").exists()
