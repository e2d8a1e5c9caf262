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


def _trials_in(s3, prefix: str) -> int:
    from tests.orchestrator.run.s3_server import files_under

    return sum(path.endswith(".parquet") for path in files_under(s3, f"{prefix}/results/trials"))


def test_a_study_in_the_bucket_survives_a_killed_driver_and_resumes_on_another_machine(
    s3_bucket, tmp_path, write_spec, monkeypatch
):
    import os
    import signal
    import subprocess
    import sys
    import time

    import pyarrow.dataset as ds

    from tests.conftest import REPO
    from tests.orchestrator.run.optuna_checks import assert_optuna_matches_trials
    from tests.orchestrator.run.s3_server import files_under

    budget = {"trials_per_arm": 3, "epochs": 2, "max_concurrent_trials": 1}
    spec = write_spec(tiny_spec("shared", variants=["baseline"], budget=budget))
    storage, uri = f"s3://{BUCKET}/studies", f"s3://{BUCKET}/studies/shared"
    monkeypatch.setenv("ORCHESTRATE_CACHE", str(tmp_path / "machine-a"))  # where the driver's working copy lives
    command = [sys.executable, "-m", "orchestrator", "run", str(spec), "--storage", storage]
    driver = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _trials_in(s3_bucket, f"{BUCKET}/studies/shared") == 0:  # a trial recorded and pushed
        assert driver.poll() is None and time.monotonic() < deadline, driver.stderr.read() if driver.poll() else ""
        time.sleep(0.5)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()

    monkeypatch.setenv("ORCHESTRATE_CACHE", str(tmp_path / "machine-b"))  # no working copy: from the bucket
    resumed = orchestrate("resume", uri)
    assert resumed.returncode == 0 and f"study shared at {uri}" in resumed.stdout, resumed.stdout + resumed.stderr
    (copy,) = (tmp_path / "machine-b").glob("studies/*/shared")
    trials = ds.dataset(copy / "results" / "trials").to_table().to_pandas()
    assert len(trials) == 3 and trials["trial_id"].is_unique and (trials["status"] == "completed").all()
    assert_optuna_matches_trials(copy)
    assert _trials_in(s3_bucket, f"{BUCKET}/studies/shared") == 3  # the bucket has what the copy has
    files = files_under(s3_bucket, f"{BUCKET}/studies/shared")
    assert any("/train/" in path and path.endswith("/state.pt") for path in files)  # checkpoints went there
    assert not any(path.endswith("driver.lock") for path in files)  # released at the end
    compared = orchestrate("compare", uri)
    assert compared.returncode == 0 and "| unet | baseline |" in compared.stdout, compared.stderr
    again = orchestrate("run", spec, "--storage", storage)
    assert again.returncode == 2 and f"already exists at {uri}" in again.stderr, again.stderr


def test_each_push_uploads_the_optuna_journal_after_the_rows_it_tells_of(s3_bucket, tmp_path):
    # A driver writes a trial's row, then tells Optuna: here trial b ends (row, then journal line) in the
    # middle of a push. The bucket must never hold a journal telling of a row it does not hold.
    from orchestrator.run.optuna_storage import journal_path
    from orchestrator.study.folder import OPTUNA_JOURNAL as JOURNAL
    from orchestrator.study.mirror import StudyMirror

    assert journal_path(tmp_path).relative_to(tmp_path).as_posix() == JOURNAL
    local, remote = tmp_path / "copy", f"{BUCKET}/ordered"
    rows = local / "results" / "trials" / "arm"
    rows.mkdir(parents=True)
    (local / "state").mkdir()
    (rows / "a.parquet").write_bytes(b"row a")
    (local / JOURNAL).parent.mkdir()
    (local / JOURNAL).write_bytes(b"told a\n")
    uploads = []

    class DriverWritingMeanwhile(StudyMirror):
        def _write(self, rel: str, data: bytes) -> None:
            super()._write(rel, data)
            uploads.append(rel)
            if rel == "results/trials/arm/a.parquet" and not (rows / "b.parquet").exists():
                (rows / "b.parquet").write_bytes(b"row b")
                with (local / JOURNAL).open("ab") as journal:
                    journal.write(b"told b\n")

    mirror = DriverWritingMeanwhile(f"s3://{remote}", local, s3_bucket, remote)
    mirror.push()
    assert uploads[:2] == ["results/trials/arm/a.parquet", JOURNAL]
    with s3_bucket.open_input_stream(f"{remote}/{JOURNAL}") as stream:
        assert stream.read() == b"told a\n"  # as it was before the rows were listed
    uploads.clear()
    mirror.push()
    assert uploads[:2] == ["results/trials/arm/b.parquet", JOURNAL]
    with s3_bucket.open_input_stream(f"{remote}/{JOURNAL}") as stream:
        assert stream.read() == b"told a\ntold b\n"
