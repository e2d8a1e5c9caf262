"""Ports for the servers a study or a test starts come from outside the kernel's ephemeral range, so a
process binding port 0 meanwhile (a raylet's object manager) cannot take one before its server does."""

import socket

from orchestrator.run.ports import _first_ephemeral_port, free_port


def test_a_free_port_lies_between_rays_worker_ports_and_the_ephemeral_range():
    first_ephemeral = _first_ephemeral_port()
    for _ in range(50):
        port = free_port()
        assert 20000 <= port < first_ephemeral
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))  # free: a server can take it


def test_a_port_in_use_is_never_handed_out():
    first_ephemeral = _first_ephemeral_port()
    held = []
    try:
        # Hold a part of the window (under any open-file limit): every port handed out must still be one nobody holds.
        for port in range(20000, min(first_ephemeral, 20000 + 800)):
            server = socket.socket()
            try:
                server.bind(("", port))
            except OSError:
                server.close()
                continue
            held.append(server)
        taken = {server.getsockname()[1] for server in held}
        assert all(free_port() not in taken for _ in range(200))
    finally:
        for server in held:
            server.close()
