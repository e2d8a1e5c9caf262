"""Trials never reach the network: importing what a trial's worker and the final evaluation import (the
training loop, the augmentations, smp's encoders) sends no request. albumentations asks pypi.org for a
newer version on import unless told not to; here every request goes through an HTTP proxy the test
starts on 127.0.0.1, which records what arrives."""

import os
import socketserver
import subprocess
import sys
import threading

import pytest

from tests.conftest import REPO


class _RecordingProxy(socketserver.StreamRequestHandler):
    def handle(self):
        self.server.requests.append(self.rfile.readline().decode(errors="replace").strip())
        self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def proxy():
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RecordingProxy) as server:
        server.requests = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server
        server.shutdown()


TRIAL_MODULES = (
    "trainables.train_loop, trainables.augment, trainables.checkpoint_evaluation, segmentation_models_pytorch"
)


def _import(modules: str, proxy, **env: str) -> None:
    address = f"http://127.0.0.1:{proxy.server_address[1]}"
    clean = {k: v for k, v in os.environ.items() if k.lower() not in {"no_proxy", "no_albumentations_update"}}
    proxied = {**clean, "https_proxy": address, "HTTPS_PROXY": address, "http_proxy": address, **env}
    imported = subprocess.run(
        [sys.executable, "-c", f"import {modules}"], cwd=REPO, env=proxied, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr


def test_importing_what_a_trial_imports_sends_no_request(proxy):
    _import(TRIAL_MODULES, proxy)
    assert proxy.requests == []


def test_the_proxy_sees_the_version_check_when_a_user_turns_it_back_on(proxy):
    # The control: the check does go through this proxy, so the test above would see it.
    _import("trainables.augment", proxy, NO_ALBUMENTATIONS_UPDATE="0")
    assert any("pypi.org" in request for request in proxy.requests), proxy.requests
