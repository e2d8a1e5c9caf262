"""A head whose Jobs API drops the connection mid-call (it is restarting, or its dashboard died): the
job commands say so in one line with exit code 2. The head here is a real HTTP server on 127.0.0.1 that
answers Ray's version check, as a dashboard does, and closes every other request unanswered. An address
that takes the connection and never answers (a wrong port) is one line too, not a hang."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import ray

from orchestrator.run.ports import free_port
from tests.conftest import orchestrate


class _DroppingJobsApi(BaseHTTPRequestHandler):
    def _answer_version_or_drop(self) -> None:
        if self.path.rstrip("/") == "/api/version":
            body = json.dumps({"version": "4", "ray_version": ray.__version__, "ray_commit": "x"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.close_connection = True  # no status line at all: "Remote end closed connection"

    do_GET = do_POST = _answer_version_or_drop

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def dropping_head() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _DroppingJobsApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _assert_one_line_exit_2(result, message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args",
    [["jobs"], ["logs", "orchestrate-x-1"], ["stop", "orchestrate-x-1"], ["submit", "studies/demo.yaml"]],
)
def test_a_jobs_api_that_drops_the_connection_is_one_line(dropping_head, tmp_path, args):
    if args[0] == "submit":
        args = [*args, "--storage", str(tmp_path / "runs")]
    result = orchestrate(*args, "--address", dropping_head)
    _assert_one_line_exit_2(result, f"the Ray Jobs API at {dropping_head} stopped answering")


def test_an_address_that_never_answers_is_one_line_not_a_hang():
    silent = socket.create_server(("127.0.0.1", 0))  # listening: the kernel completes connections; none is read
    address = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        result = orchestrate("jobs", "--address", address, timeout=60)  # Ray's client alone: forever
    finally:
        silent.close()
    _assert_one_line_exit_2(result, f"{address} took no answer within 10 s")
