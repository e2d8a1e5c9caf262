"""A real Ray head (GCS, raylet, dashboard with the Jobs API) started once for the cluster tests."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.run.ports import free_port


@dataclass(frozen=True)
class Head:
    jobs_api: str  # http://127.0.0.1:PORT, what `orchestrate submit/jobs/logs/stop --address` take
    gcs: str  # NODE_IP:PORT, what `orchestrate run --address` takes


def job_id(submitted: subprocess.CompletedProcess) -> str:
    """The submission id `orchestrate submit` printed."""
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    return submitted.stdout.split(" as job ")[1].split()[0]


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


BIN = Path(sys.executable).parent  # the job's `python` and `ray` are this environment's


def _own_ports() -> list[str]:
    # Ports of its own: another Ray on this machine (a test's local study) may hold the defaults.
    ports = ["--dashboard-agent-listen-port", "--metrics-export-port", "--dashboard-agent-grpc-port"]
    return [f"{flag}={free_port()}" for flag in [*ports, "--runtime-env-agent-port"]]


def start_node(arguments: list[str]) -> subprocess.Popen:
    """`ray start ... --block` in a session of its own, with a temp dir of its own so no other Ray finds
    it (short: Ray's socket paths under it must stay within 107 bytes)."""
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_memory_monitor_refresh_ms": "0"}
    if "--head" not in arguments:
        env["RAY_AUTH_MODE"] = "token"  # the head enabled token auth (a token is in ~/.ray): join with it
    command = [str(BIN / "ray"), "start", "--block", *arguments, *_own_ports(), "--disable-usage-stats"]
    command.append(f"--temp-dir={temp_dir}")
    output = open(Path(temp_dir) / "ray-start.out", "w")  # noqa: SIM115 - the node writes it while it runs
    process = subprocess.Popen(command, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT)
    process.output = Path(output.name)
    return process


def wait_until_started(process: subprocess.Popen, timeout_s: float = 120) -> None:
    """`ray start` prints "Ray runtime started" once its node has joined the cluster."""
    deadline = time.monotonic() + timeout_s
    while "Ray runtime started" not in process.output.read_text():
        assert process.poll() is None, process.output.read_text()[-2000:]
        assert time.monotonic() < deadline, "the node did not start"
        time.sleep(0.5)


def stop_node(process: subprocess.Popen) -> None:
    process.terminate()  # `ray start` stops what it started (its drain can take 30 s: not waited for)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have killed the node already
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="package")  # stopped once tests/cluster is done, not left idling through the suite
def ray_head() -> Head:
    """A head node with 2 CPUs, the dashboard (Jobs API) and cluster.yaml's study_driver resource."""
    dashboard_port, gcs_port = free_port(), free_port()
    arguments = ["--head", "--num-cpus=2", f"--port={gcs_port}", '--resources={"study_driver": 1}']
    arguments += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}"]
    process = start_node(arguments)
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        _wait_for_jobs_api(address, process)
        from ray._private.services import get_node_ip_address

        yield Head(jobs_api=address, gcs=f"{get_node_ip_address()}:{gcs_port}")  # Ray's node address
    finally:
        stop_node(process)
