"""A real Ray head (GCS, raylet, dashboard with the Jobs API) started once for the cluster tests."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
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


class HeadExited(Exception):
    """`ray start --head` exited before its Jobs API answered; the message is the end of its output."""


def _wait_for_jobs_api(address: str, head: subprocess.Popen, timeout_s: float = 120) -> None:
    # Through the CLI, as a user would: a fresh process reads the token `ray start` left in ~/.ray.
    from tests.conftest import orchestrate

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if head.poll() is not None:  # Ray's output names the process that failed and its log lines
            raise HeadExited(f"exit code {head.returncode}: ...{head.output.read_text()[-3000:]}")
        listed = orchestrate("jobs", "--address", address, timeout=60)
        if listed.returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"the Jobs API at {address} did not answer: {listed.stderr}")


BIN = Path(sys.executable).parent  # the job's `python` and `ray` are this environment's


def _own_ports() -> list[str]:
    # Ports of its own: another Ray on this machine (a test's local study) may hold the defaults.
    # gRPC binds with SO_REUSEPORT: two heads on one port (10001, the Ray Client's) would share it silently.
    ports = ["--dashboard-agent-listen-port", "--metrics-export-port", "--dashboard-agent-grpc-port"]
    ports += ["--runtime-env-agent-port", "--ray-client-server-port"]
    return [f"{flag}={free_port()}" for flag in ports]


def start_node(arguments: list[str]) -> subprocess.Popen:
    """`ray start ... --block` in a session of its own, with a temp dir of its own so no other Ray finds
    it (short: Ray's socket paths under it must stay within 107 bytes)."""
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_memory_monitor_refresh_ms": "0"}
    if "--head" not in arguments:
        env["RAY_AUTH_MODE"] = "token"  # the head enabled token auth (a token is in ~/.ray): join with it
    command = [str(BIN / "ray"), "start", "--block", *arguments, *_own_ports(), "--disable-usage-stats"]
    command.append(f"--temp-dir={temp_dir}")
    output = Path(temp_dir) / "ray-start.out"
    with output.open("w") as written:  # the node writes through its own copy of the descriptor
        process = subprocess.Popen(command, env=env, start_new_session=True, stdout=written, stderr=subprocess.STDOUT)
    process.output = output
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


def _head_answering() -> tuple[subprocess.Popen, str, int]:
    """A head started with ports of its own, once its Jobs API answers; stopped if it does not."""
    dashboard_port, gcs_port = free_port(), free_port()
    arguments = ["--head", "--num-cpus=2", f"--port={gcs_port}", '--resources={"study_driver": 1}']
    arguments += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}"]
    process, address = start_node(arguments), f"http://127.0.0.1:{dashboard_port}"
    try:
        _wait_for_jobs_api(address, process)
    except BaseException:
        stop_node(process)
        raise
    return process, address, gcs_port


def _started_head(attempts: int = 2) -> tuple[subprocess.Popen, str, int]:
    """A head that exits while starting (seen once in CI, its output lost) is reported with Ray's output,
    as a warning, and started again with other ports; the last attempt's exit fails the tests."""
    for _ in range(attempts - 1):
        try:
            return _head_answering()
        except HeadExited as exited:
            warnings.warn(f"ray start --head exited while starting; starting it again. {exited}", stacklevel=1)
    return _head_answering()


@pytest.fixture(scope="package")  # stopped once tests/cluster is done, not left idling through the suite
def ray_head() -> Head:
    """A head node with 2 CPUs, the dashboard (Jobs API) and cluster.yaml's study_driver resource."""
    process, address, gcs_port = _started_head()
    try:
        from ray._private.services import get_node_ip_address

        yield Head(jobs_api=address, gcs=f"{get_node_ip_address()}:{gcs_port}")  # Ray's node address
    finally:
        stop_node(process)
