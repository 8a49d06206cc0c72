"""A free port on 127.0.0.1 for an emulator, a test server or a benchmark to listen on."""
from __future__ import annotations

import socket


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_port() -> int:
    """For nfcpy's ``udp`` driver (``udp:127.0.0.1:PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
