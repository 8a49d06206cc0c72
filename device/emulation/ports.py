"""A free port on 127.0.0.1 for an emulator, a test server or a benchmark to listen on.

A port is chosen here and bound later by someone else (a hub process, PostgreSQL, nfcpy's ``udp`` driver), so
it must stay free in between, also while other processes (parallel test workers, a second test run) ask
for ports too. Ports therefore come from below the kernel's ephemeral range (``ip_local_port_range``), from
which ``bind(0)`` and every outgoing connection draw theirs; each process walks that band from its own random
starting point and never hands out a port twice; a port some socket holds now is skipped. Where the
ephemeral range leaves no room below it, the kernel's ``bind(0)`` answer is used.
"""
from __future__ import annotations

import math
import os
import random
import socket
import threading
from pathlib import Path

BAND_LOW = 10_000  # the band is BAND_LOW .. start of the ephemeral range
STRIDE = 7_919  # a prime; made coprime with the band's length below
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _band() -> range:
    try:
        ephemeral_low = int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return range(0)
    return range(BAND_LOW, ephemeral_low) if ephemeral_low - BAND_LOW >= 1_000 else range(0)


class _Ports:
    def __init__(self, band: range):
        self.band = band
        self.stride = STRIDE
        while band and math.gcd(self.stride, len(band)) != 1:
            self.stride += 1
        self._lock = threading.Lock()
        self.restart()

    def restart(self) -> None:
        """A new random starting point (from the OS: a test's ``random.seed`` does not make workers agree)."""
        self._next = random.SystemRandom().randrange(len(self.band)) if self.band else 0

    def take(self, kind: int) -> int:
        with self._lock:
            for _ in range(len(self.band)):
                port = self.band[self._next]
                self._next = (self._next + self.stride) % len(self.band)
                if _bindable(kind, port):
                    return port
        return _kernel_port(kind)


def _bindable(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _kernel_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PORTS = _Ports(_band())
os.register_at_fork(after_in_child=_PORTS.restart)  # a forked child walks from a point of its own


def free_tcp_port() -> int:
    return _PORTS.take(socket.SOCK_STREAM)


def free_udp_port() -> int:
    """For nfcpy's ``udp`` driver (``udp:127.0.0.1:PORT``): never a port the services database names, which the
    driver reads back by name (``getnameinfo`` without ``NI_NUMERICSERV``: 30865 becomes "csync2") and fails on."""
    for _ in range(100):
        port = _PORTS.take(socket.SOCK_DGRAM)
        if not _named(port):
            return port
    return port


def _named(port: int) -> bool:
    return socket.getnameinfo(("127.0.0.1", port), socket.NI_NUMERICHOST)[1] != str(port)  # as the driver asks
