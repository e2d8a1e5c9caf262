"""A real Ray head (GCS, raylet, dashboard with the Jobs API) started once for the cluster tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Head:
    jobs_api: str  # http://127.0.0.1:PORT, what `orchestrate submit/jobs/logs/stop --address` take
    gcs: str  # NODE_IP:PORT, what `orchestrate run --address` takes


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_jobs_api(address: str, head: subprocess.Popen, timeout_s: float = 120) -> None:
    # Through the CLI, as a user would: a fresh process reads the token `ray start` left in ~/.ray.
    from tests.conftest import orchestrate

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert head.poll() is None, "ray start --head exited"
        listed = orchestrate("jobs", "--address", address, timeout=60)
        if listed.returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"the Jobs API at {address} did not answer: {listed.stderr}")


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory) -> Head:
    """`ray start --head --block` in a session of its own (its own temp dir, so no other Ray finds it)."""
    temp_dir = tmp_path_factory.mktemp("ray-head")
    dashboard_port = _free_port()
    bin_dir = str(Path(sys.executable).parent)  # the job's `python` is this environment's
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RAY_memory_monitor_refresh_ms": "0"}
    gcs_port = _free_port()
    command = [f"{bin_dir}/ray", "start", "--head", "--block", "--num-cpus=2", f"--port={gcs_port}"]
    command += ['--resources={"study_driver": 1}']  # as cluster.yaml's head
    command += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}"]
    command += [f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    # Ports of its own: another Ray on this machine (a test's local study) may hold the defaults.
    command += [f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}"]
    command += [f"--dashboard-agent-grpc-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}"]
    process = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        _wait_for_jobs_api(address, process)
        from ray._private.services import get_node_ip_address

        yield Head(jobs_api=address, gcs=f"{get_node_ip_address()}:{gcs_port}")  # Ray's node address
    finally:
        process.terminate()  # `ray start` stops what it started (its drain can take 30 s: not waited for)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        finally:
            os.killpg(process.pid, signal.SIGKILL)
