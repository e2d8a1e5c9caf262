"""Trial checkpoints in an object store (issue 12): a real S3-protocol server (moto's server mode, as
Ray's own storage tests use) started by the test on 127.0.0.1. A study killed mid-trial resumes that
trial from its checkpoint in the bucket, and the final evaluation reads the best one from there."""

import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pyarrow.dataset as ds
import pyarrow.fs
import pytest
import yaml

from tests.conftest import REPO, orchestrate, tiny_spec

pytestmark = pytest.mark.ray
BUCKET, EPOCHS, TRIALS = "checkpoints", 4, 2
CELLS = {"name": "cells", "kind": "synthetic", "num_images": 48, "image_size": 64}  # epochs long enough to kill between


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_bucket():
    """An empty bucket on a moto S3 server; the environment points every process (Ray's too) at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in the test's log
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups for credentials
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        s3 = pyarrow.fs.S3FileSystem(
            access_key="testing", secret_key="testing", region="us-east-1",
            endpoint_override=f"127.0.0.1:{port}", scheme="http", allow_bucket_creation=True,
        )  # fmt: skip
        s3.create_dir(BUCKET)
        yield s3
    server.stop()


def _objects(s3: pyarrow.fs.S3FileSystem, prefix: str) -> list[str]:
    selector = pyarrow.fs.FileSelector(prefix, recursive=True, allow_not_found=True)
    return [info.path for info in s3.get_file_info(selector) if info.type == pyarrow.fs.FileType.File]


def _epoch_one_of_a_trial(study) -> dict | None:
    """The first epoch row a trial recorded, once one has (its trial then has epochs to go)."""
    files = sorted((study / "results" / "epochs").glob("*/*-e0001.parquet"))
    return ds.dataset(files[0]).to_table().to_pylist()[0] if files else None


def _run_and_kill_after_a_first_epoch(spec_path, storage, study) -> dict:
    command = [sys.executable, "-m", "orchestrator", "run", str(spec_path), "--storage", str(storage)]
    driver = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, first_epoch = time.monotonic() + 300, None
    while first_epoch is None:
        assert driver.poll() is None and time.monotonic() < deadline, "no epoch recorded"
        time.sleep(0.2)
        first_epoch = _epoch_one_of_a_trial(study)
    os.kill(driver.pid, signal.SIGKILL)  # mid-trial: its checkpoint of epoch 1 is in the bucket
    driver.wait()
    return first_epoch


def test_checkpoints_live_in_the_bucket_and_a_killed_study_resumes_from_them(s3_bucket, tmp_path):
    budget = {"trials_per_arm": TRIALS, "epochs": EPOCHS, "max_concurrent_trials": 1}
    spec = tiny_spec(
        "s3", variants=["baseline"], budget=budget, datasets=[CELLS], checkpoint_storage=f"s3://{BUCKET}/runs"
    )
    (tmp_path / "s3.yaml").write_text(yaml.safe_dump(spec))
    study = tmp_path / "runs" / "s3"
    first_epoch = _run_and_kill_after_a_first_epoch(tmp_path / "s3.yaml", tmp_path / "runs", study)
    resumed = orchestrate("resume", study)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    assert len(trials) == TRIALS and (trials["status"] == "completed").all()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pylist()
    assert sorted((row["trial_id"], row["epoch"]) for row in epochs) == sorted(
        (trial, epoch) for trial in trials["trial_id"] for epoch in range(1, EPOCHS + 1)
    )
    # The killed trial went on from its checkpoint in the bucket: epoch 1 was not trained again (a
    # retrained epoch would have taken a different time; a replayed row may be recorded again as it was).
    again = next(r for r in epochs if (r["trial_id"], r["epoch"]) == (first_epoch["trial_id"], 1))
    assert (again["epoch_seconds"], again["train_loss"]) == (first_epoch["epoch_seconds"], first_epoch["train_loss"])
    objects = _objects(s3_bucket, f"{BUCKET}/runs/s3/train")
    for trial in trials["trial_id"]:
        assert any(trial in path and path.endswith("/state.pt") for path in objects), (trial, objects)
    assert not (study / "train").exists()  # nothing of Ray Train's on the driver's disk
    tests = ds.dataset(study / "results" / "tests").to_table().to_pandas()
    assert len(tests) == 1 and tests["test_miou"].notna().all()  # evaluated from the bucket's checkpoint


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
