"""A free TCP port that no other process is about to be handed.

A port found by binding port 0 is an ephemeral one: once released, the kernel may hand it to the
next process that binds port 0 (a raylet's object manager does), and the server meant to take it
fails with "Address already in use". Ports are therefore drawn from below the ephemeral range and
above Ray's worker ports (10002-19999 by default), where only a process that names its port binds.
"""

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_ABOVE_RAY_WORKER_PORTS = 20000
_FALLBACK_EPHEMERAL_START = 32768  # Linux's default


def _first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _FALLBACK_EPHEMERAL_START


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """An unused port outside the ephemeral range (an ephemeral one where that range leaves no room)."""
    first_ephemeral = _first_ephemeral_port()
    if first_ephemeral - _ABOVE_RAY_WORKER_PORTS >= 1000:
        # Not the study's seeded generator: which port is free says nothing about the results.
        draw = random.SystemRandom()
        for _ in range(100):
            port = draw.randrange(_ABOVE_RAY_WORKER_PORTS, first_ephemeral)
            if _is_free(port):
                return port
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]
