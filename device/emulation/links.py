"""The device side of an emulator's wire: a pty (stable symlink, unplug/replug) or a TCP listener on 127.0.0.1.

Both give ``filenos()`` for select (a TCP link's client and its listener, so a new client is taken at
once), a non-blocking ``read()`` (which also accepts a new TCP client; a new
client replaces the old one), ``write()``, ``unplug()``/``replug()`` and ``close()``; ``where`` says how
a host reaches it. An emulator's loop blocks in ``LinkedEmulator.wait_for_link`` on its link and on a
``Waker``: host bytes or ``stop()`` end the wait at once, so an idle emulator neither polls nor delays its stop.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from packgate.device.emulation.pty import PtyPair
from packgate.device.waker import Waker


class PtyLink:
    def __init__(self, link: Path):
        self.link = link
        self.pair: PtyPair | None = PtyPair(link=link)

    @property
    def where(self) -> dict:
        return {"pty": str(self.link), "device": self.pair.slave_path if self.pair else None}

    def filenos(self) -> list[int]:
        return [self.pair.master_fd] if self.pair else []

    def read(self) -> bytes:
        return self.pair.read(timeout=0) if self.pair else b""

    def write(self, data: bytes) -> None:
        if self.pair:
            self.pair.write(data)

    def unplug(self) -> None:
        if self.pair:
            self.pair.close()
            self.pair = None

    def replug(self) -> None:
        if self.pair is None:
            self.pair = PtyPair(link=self.link)

    close = unplug


class TcpLink:
    def __init__(self, port: int):
        self.port = port
        self.server: socket.socket | None = None
        self.client: socket.socket | None = None
        self.replug()

    @property
    def where(self) -> dict:
        return {"tcp": self.port, "url": f"socket://127.0.0.1:{self.port}"}

    def replug(self) -> None:
        if self.server is not None:
            return
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(4)
        srv.setblocking(False)
        self.port = srv.getsockname()[1]
        self.server = srv

    def filenos(self) -> list[int]:
        return [s.fileno() for s in (self.client, self.server) if s is not None]

    def _accept(self) -> None:
        if self.server is None:
            return
        try:
            conn, _ = self.server.accept()
        except (BlockingIOError, OSError):
            return
        if self.client is not None:
            self.client.close()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = conn

    def read(self) -> bytes:
        self._accept()
        if self.client is None:
            return b""
        try:
            data = self.client.recv(4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            data = b""
        if not data:
            self.client.close()
            self.client = None
        return data

    def write(self, data: bytes) -> None:
        self._accept()
        if self.client is None:
            return
        try:
            self.client.sendall(data)
        except OSError:
            self.client.close()
            self.client = None

    def unplug(self) -> None:
        for s in (self.client, self.server):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.client = self.server = None

    close = unplug


class LinkedEmulator:
    """What every emulator does with its wire: listen on a pty or TCP, serve from one thread, stop cleanly.
    A subclass sets ``name`` and ``kind`` and implements ``_run`` (it loops until ``self._stop`` is set)."""

    name: str
    kind: str
    IDLE_WAIT_S = 0.5  # longest block on the link with nothing to send (host bytes and stop() wake it)

    def __init__(self) -> None:
        self._link: PtyLink | TcpLink | None = None
        self._tmpdir: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._waker: Waker | None = None  # made when the loop starts; stop() wakes it

    def wait_for_link(self, fds: list[int], timeout: float) -> bool:
        """Block until one of ``fds`` is readable (True), ``timeout`` seconds pass or ``stop()`` is called."""
        if self._waker is None:
            return False
        return bool(self._waker.wait(fds, timeout))

    def start_pty(self, link: str | os.PathLike | None = None) -> str:
        """Serve on a pseudo-terminal; returns the stable symlink the host opens (a temp folder by default)."""
        if link is None:
            self._tmpdir = tempfile.mkdtemp(prefix=f"packgate-{self.kind}-emu-")
            link = Path(self._tmpdir) / self.name
        self._link = PtyLink(Path(link))
        self._start()
        return str(link)

    def start_tcp(self, port: int = 0) -> int:
        """Listen on 127.0.0.1:port (0 = any free port); returns the port (socket://127.0.0.1:<port>)."""
        link = TcpLink(port)
        self._link = link
        self._start()
        return link.port

    @property
    def where(self) -> dict:
        return self._link.where if self._link else {}

    def _start(self) -> None:
        self._waker = Waker()
        self._thread = threading.Thread(target=self._run, name=f"{self.kind}-emu:{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        if self._waker is not None:
            self._waker.wake()
        if self._thread is not None:
            self._thread.join(2)
        if self._waker is not None and (self._thread is None or not self._thread.is_alive()):
            self._waker.close()
        if self._link is not None:
            self._link.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> "LinkedEmulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
