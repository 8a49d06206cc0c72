"""Hostile clients for the servers' tests and benches: many sockets that each send a request's head one byte every
few seconds ("slowloris"), from many source addresses (127.0.0.2 … on Linux's loopback /8, so they are "other
clients on the network", not the station PC at 127.0.0.1), reconnecting whenever the server closes one.

``SlowClients(host, port, count, sources=…, every_s=2.0).start()``; ``stop()``; ``connects`` counts connections
made (a server that closes slow heads makes the attacker reconnect), ``closed_by_server`` those the server ended.
"""
from __future__ import annotations

import itertools
import selectors
import socket
import threading
import time

HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


class SlowClients:
    def __init__(self, host: str, port: int, count: int, *, sources: int = 30, every_s: float = 2.0):
        self.host, self.port, self.count, self.every_s = host, port, count, every_s
        self.sources = [f"127.0.0.{2 + i}" for i in range(sources)]
        self.connects = 0
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._source = itertools.cycle(self.sources)

    def start(self) -> "SlowClients":
        self._thread.start()
        deadline = time.monotonic() + 20
        while self.connects < self.count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _open(self, sel: selectors.BaseSelector, when: dict[socket.socket, tuple[float, int]]) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((next(self._source), 0))
            sock.settimeout(2.0)
            sock.connect((self.host, self.port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            return
        self.connects += 1
        sel.register(sock, selectors.EVENT_READ)
        when[sock] = (time.monotonic(), 0)

    def _close(self, sel: selectors.BaseSelector, when: dict[socket.socket, tuple[float, int]], sock: socket.socket) -> None:
        sel.unregister(sock)
        del when[sock]
        sock.close()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        when: dict[socket.socket, tuple[float, int]] = {}
        while not self._stop.is_set():
            while len(when) < self.count and not self._stop.is_set():
                self._open(sel, when)
            for key, _ in sel.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the server closed it (or answered and closed): open another
                    self.closed_by_server += 1
                    self._close(sel, when, sock)
            now = time.monotonic()
            for sock, (due, sent) in list(when.items()):
                if now >= due:
                    try:
                        sock.send(HEAD[sent % len(HEAD):sent % len(HEAD) + 1])
                    except OSError:
                        self.closed_by_server += 1
                        self._close(sel, when, sock)
                        continue
                    when[sock] = (now + self.every_s, sent + 1)
        for sock in list(when):
            self._close(sel, when, sock)
        sel.close()
