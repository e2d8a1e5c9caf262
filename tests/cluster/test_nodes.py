"""A study on a two-node cluster (the head and a worker node, each a `ray start` on this machine):
trials run on both nodes, and a trial on the worker node killed mid-trial moves to the head and
continues from its last checkpoint, with no epoch lost or recorded twice."""

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.dataset as ds
import pytest
import yaml

from tests.cluster.conftest import start_node, stop_node, wait_until_started
from tests.conftest import REPO, tiny_spec

pytestmark = pytest.mark.ray
EPOCHS, TRIALS = 6, 3  # 3 trials at once: two fill the head's 2 CPUs, one the worker node's


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


def test_trials_spread_over_nodes_and_one_on_a_killed_node_finishes_on_another(ray_head, tmp_path):
    worker = start_node([f"--address={ray_head.gcs}", "--num-cpus=1"])
    wait_until_started(worker)  # joined before the study starts: its three trials start at once
    spec = tiny_spec(
        "nodes",
        variants=["baseline"],
        datasets=[{"name": "cells", "kind": "synthetic", "num_images": 64, "image_size": 64}],
        budget={"trials_per_arm": TRIALS, "epochs": EPOCHS, "max_concurrent_trials": TRIALS},
        resources={"workers": 1, "cpus_per_worker": 1, "max_failures": 2},  # Train restarts a lost worker
    )
    (tmp_path / "nodes.yaml").write_text(yaml.safe_dump(spec))
    study = tmp_path / "runs" / "nodes"
    command = [sys.executable, "-m", "orchestrator", "run", str(tmp_path / "nodes.yaml"), "--storage"]
    driver = subprocess.Popen([*command, str(tmp_path / "runs"), "--address", ray_head.gcs], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline, lost_node, moved = time.monotonic() + 300, _node_id(worker), None
        while moved is None:
            assert driver.poll() is None and time.monotonic() < deadline, "no trial reported from the worker node"
            time.sleep(0.5)
            moved = _trial_mid_run_on(study, lost_node)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker node dies mid-trial: raylet, workers and all
        output, _ = driver.communicate(timeout=600)
    finally:
        stop_node(worker)
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, output[-3000:]
    trials = ds.dataset(study / "results" / "trials").to_table().to_pandas()
    assert len(trials) == TRIALS and (trials["status"] == "completed").all()
    epochs = ds.dataset(study / "results" / "epochs").to_table().to_pandas()
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == TRIALS * EPOCHS
    assert epochs["node"].nunique() == 2  # the results say where each trial trained
    moved_epochs = epochs[epochs["trial_id"] == moved].sort_values("epoch")
    assert moved_epochs["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert moved_epochs["node"].iloc[0] == lost_node and moved_epochs["node"].iloc[-1] != lost_node
    assert trials.set_index("trial_id").loc[moved, "node"] != lost_node
