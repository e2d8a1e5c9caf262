"""A study submitted as a Ray Job to a two-node cluster (the head and a worker node, each a `ray start`
on this machine), its trial checkpoints in S3 (moto's server on 127.0.0.1): trials run on both nodes,
a trial on the worker node killed mid-trial moves to the head and continues from its last checkpoint
in the bucket, with no epoch lost or recorded twice, and the finished study compares."""

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter

import pyarrow.dataset as ds
import pytest
import yaml

from tests.cluster.conftest import job_id, start_node, stop_node, wait_until_started
from tests.conftest import orchestrate, tiny_spec
from tests.orchestrator.run.s3_server import BUCKET, assert_each_trial_checkpointed_in_the_bucket
from trainables.trial import PHASES_FILE

pytestmark = pytest.mark.ray
EPOCHS, TRIALS = 6, 3  # 3 trials at once: two fill the head's 2 CPUs, one the worker node's
ARM = "cells__unet__baseline"


def _epochs_on(study, node: str) -> dict[str, int]:
    """trial id -> how many of its recorded epochs trained on the node."""
    folder = study / "results" / "epochs"
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        return {}
    try:
        rows = ds.dataset(folder).to_table(columns=["trial_id", "node"]).to_pylist()
    except FileNotFoundError:  # a finished trial's epoch files were just compacted into one: look again
        return {}
    return Counter(row["trial_id"] for row in rows if row["node"] == node)


def _node_id(node: subprocess.Popen) -> str:
    """The id Ray gave the node, as its raylet logged it (and as the results' `node` column holds it)."""
    log = node.output.parent / "session_latest" / "logs" / "raylet.out"
    return re.search(r"Setting node ID node_id=([0-9a-f]+)", log.read_text()).group(1)


def _trial_mid_run_on(study, node: str) -> str | None:
    """A trial that has trained an epoch on the node and has at least two still to train: killing the
    node now provably lands mid-trial (an epoch takes over a second; this is polled every half)."""
    started = [trial for trial, epochs in _epochs_on(study, node).items() if epochs <= EPOCHS - 2]
    return started[0] if started else None


def _kill_mid_trial(node: subprocess.Popen, study) -> str:
    """SIGKILL the node (raylet, workers and all) once a trial there is mid-run; that trial's id."""
    deadline, node_id, moved = time.monotonic() + 300, _node_id(node), None
    while moved is None:
        assert node.poll() is None and time.monotonic() < deadline, "no trial reported from the worker node"
        time.sleep(0.5)
        moved = _trial_mid_run_on(study, node_id)
    os.killpg(node.pid, signal.SIGKILL)
    return moved


def test_a_job_on_two_nodes_survives_a_killed_node_with_checkpoints_in_s3_and_compares(ray_head, s3_bucket, tmp_path):
    worker = start_node([f"--address={ray_head.gcs}", "--num-cpus=1"])  # after s3_bucket: it has the endpoint
    wait_until_started(worker)  # joined before the study starts: its three trials start at once
    lost_node = _node_id(worker)
    spec = tiny_spec(
        "nodes",
        variants=["baseline"],
        # 256 images: an epoch of about a second even on an idle machine (64 took 0.3 s, and the half-second
        # poll then missed the whole trial on the worker node in three of four runs alone)
        datasets=[{"name": "cells", "kind": "synthetic", "num_images": 256, "image_size": 64}],
        budget={"trials_per_arm": TRIALS, "epochs": EPOCHS, "max_concurrent_trials": TRIALS},
        resources={"workers": 1, "cpus_per_worker": 1, "max_failures": 2},  # Train restarts a lost worker
        checkpoint_storage=f"s3://{BUCKET}/cluster",
    )
    (tmp_path / "nodes.yaml").write_text(yaml.safe_dump(spec))
    study, head = tmp_path / "runs" / "nodes", ray_head.jobs_api
    submitted = orchestrate(
        "submit",
        tmp_path / "nodes.yaml",
        "--storage",
        tmp_path / "runs",
        "--address",
        head,
        "--driver-resource",
        "study_driver",
    )  # fmt: skip - the driver stays on the head
    job = job_id(submitted)
    try:
        moved = _kill_mid_trial(worker, study)
        followed = orchestrate("logs", job, "--address", head, "--follow", timeout=600)
    finally:
        stop_node(worker)
    assert followed.returncode == 0 and f"job {job}: SUCCEEDED" in followed.stdout, followed.stdout[-3000:]
    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    assert len(trials) == TRIALS and (trials["status"] == "completed").all()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == TRIALS * EPOCHS
    assert epochs["node"].nunique() == 2  # the results say where each trial trained
    moved_epochs = epochs[epochs["trial_id"] == moved].sort_values("epoch")
    assert moved_epochs["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert moved_epochs["node"].iloc[0] == lost_node and moved_epochs["node"].iloc[-1] != lost_node
    assert trials.set_index("trial_id").loc[moved, "node"] != lost_node
    assert_each_trial_checkpointed_in_the_bucket(s3_bucket, f"{BUCKET}/cluster/nodes", trials["trial_id"], study)
    # Each trial's actor, which hosts its Train controller, ran beside the arm's driver on the head.
    for trial_id in trials["trial_id"]:
        with s3_bucket.open_input_stream(f"{BUCKET}/cluster/nodes/train/{ARM}__{trial_id}/{PHASES_FILE}") as phases:
            assert json.loads(phases.read())["node"] != lost_node, trial_id
    compared = orchestrate("compare", study)
    assert compared.returncode == 0 and "| unet | baseline |" in compared.stdout, compared.stdout + compared.stderr
