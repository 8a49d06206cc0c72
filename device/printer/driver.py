"""A label printer: open a transport, send a job, query and decode its status, with timeouts.

    with Printer("tcp://10.0.0.7", get_profile("zebra-zpl")) as printer:   # port from the profile (9100)
        status = printer.status()               # PrinterStatus: ready, conditions, advice
        status = printer.status(detail=True)    # and the detailed status (~HQES, <ESC>!S): faults and warnings
        printer.print(job)                      # PrinterNotReadyError (with .status) if it cannot print

Port grammar: ``tcp://HOST[:PORT]`` (raw 9100 by default), ``usb:/dev/usb/lp0`` (USB printer class; a bare
``/dev/usb/lp*`` path too), ``serial:/dev/ttyUSB0`` or any other device path or pyserial URL (the
profile's serial settings). A transport the profile does not list is refused. Every wait is bounded by
the profile's ``status.timeout`` (or ``timeout=``), measured on the injectable clock's monotonic time.

The detailed status (``[status.detail]``) is asked when the short answer shows a fault, or always with
``detail=True``; a printer that does not answer it (older firmware) is asked no more on this connection and its
short status stands, with a note in ``detail``. A printer that left it unanswered ``DETAIL_MISSES`` times in a row
(older firmware) is asked no more on this connection: one late answer from a busy printer or host is no reason to
stop asking for the warnings.
"""
from __future__ import annotations

import os
import select
import socket
from typing import Callable, Protocol

from packgate.device.clock import Clock
from packgate.device.errors import PortError, PrinterError, PrinterNotReadyError, PrinterTimeoutError
from packgate.device.printer import detail as detailed
from packgate.device.printer.spec import PrinterSpec
from packgate.device.printer.status import PrinterStatus, complete, decode
from packgate.device.profiles import Profile

POLL_S = 0.02


#: detailed status queries left unanswered in a row before a connection stops asking (older firmware)
DETAIL_MISSES = 3


class Link(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, wait: float) -> bytes: ...

    def close(self) -> None: ...


class _TcpLink:
    def __init__(self, host: str, port: int, timeout: float):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise PortError(f"cannot reach printer at {host}:{port}: {exc}") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise PortError(f"printer connection lost while sending: {exc}") from exc

    def read(self, wait: float) -> bytes:
        ready, _, _ = select.select([self.sock], [], [], wait)
        if not ready:
            return b""
        try:
            data = self.sock.recv(4096)
        except OSError as exc:
            raise PortError(f"printer connection lost: {exc}") from exc
        if not data:
            raise PortError("printer closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


class _FdLink:
    """USB printer class (/dev/usb/lp*): a character device with a back channel for status answers."""

    def __init__(self, path: str):
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise PortError(f"cannot open {path}: {exc}") from exc
        self.path = path

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except OSError as exc:
                raise PortError(f"{self.path}: write failed: {exc}") from exc

    def read(self, wait: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return b""
        try:
            return os.read(self.fd, 4096)
        except OSError as exc:
            raise PortError(f"{self.path}: read failed: {exc}") from exc

    def close(self) -> None:
        os.close(self.fd)


class _SerialLink:
    def __init__(self, url: str, profile: Profile):
        from packgate.device.transport import open_port

        settings = profile.serial.as_kwargs() if profile.serial else {}
        self.port = open_port(url, **settings, timeout=0)

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except Exception as exc:  # noqa: BLE001 - pyserial raises SerialException or OSError
            raise PortError(f"serial write failed: {exc}") from exc

    def read(self, wait: float) -> bytes:
        self.port.timeout = wait
        try:
            return bytes(self.port.read(max(1, self.port.in_waiting)))
        except Exception as exc:  # noqa: BLE001
            raise PortError(f"serial read failed: {exc}") from exc

    def close(self) -> None:
        self.port.close()


def transport_of(url: str) -> tuple[str, str]:
    """``(transport, target)`` for a port URL: tcp host:port, usb device path, or serial URL/path."""
    if url.startswith("tcp://"):
        return "tcp", url[len("tcp://"):]
    if url.startswith("usb:"):
        return "usb", url[len("usb:"):]
    if url.startswith("/dev/usb/lp"):
        return "usb", url
    if url.startswith("serial:"):
        return "serial", url[len("serial:"):]
    return "serial", url


class Printer:
    def __init__(self, url: str, profile: Profile, *, timeout: float | None = None, clock: Clock | None = None):
        if profile.kind != "printer" or profile.printer is None:
            raise PrinterError(f"profile {profile.name!r} is a {profile.kind} profile, not a printer")
        self.profile = profile
        self.spec: PrinterSpec = profile.printer
        self.url = url
        self.timeout = timeout if timeout is not None else self.spec.status.timeout
        self.clock = clock or Clock()
        self.transport, self.target = transport_of(url)
        if self.transport not in self.spec.transports:
            raise PrinterError(f"{profile.name} has no {self.transport} transport (has {', '.join(self.spec.transports)})")
        self._link: Link | None = None
        self._detail_misses = 0  # detailed status queries left unanswered in a row on this connection

    def open(self) -> "Printer":
        if self._link is not None:
            return self
        if self.transport == "tcp":
            host, _, port = self.target.rpartition(":") if ":" in self.target else (self.target, "", "")
            try:
                number = int(port) if port else self.spec.tcp_port
            except ValueError:
                raise PortError(f"bad TCP port in {self.url!r}") from None
            self._link = _TcpLink(host or "127.0.0.1", number, self.timeout)
        elif self.transport == "usb":
            self._link = _FdLink(self.target)
        else:
            self._link = _SerialLink(self.target, self.profile)
        if self.spec.status.init:
            self._link.write(self.spec.status.init)
        return self

    def close(self) -> None:
        if self._link is not None:
            link, self._link = self._link, None
            link.close()
        self._detail_misses = 0

    def __enter__(self) -> "Printer":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drain(self, link: Link) -> None:
        while link.read(0):
            pass

    def _ask(self, query: bytes, done: Callable[[bytes], bool], timeout: float) -> bytes:
        """Send ``query`` and read until ``done``; PrinterTimeoutError when no whole answer arrives in time."""
        link = self.open()._link
        assert link is not None
        self._drain(link)  # a late answer to an earlier query must not be read as this one's
        link.write(query)
        buf = b""
        deadline = self.clock.monotonic() + timeout
        while not done(buf):
            left = deadline - self.clock.monotonic()
            if left <= 0:
                raise PrinterTimeoutError(f"{self.url}: no status answer to {query!r} within {timeout:g} s (got {buf!r})")
            buf += link.read(min(POLL_S * 5, left))
        return buf

    def status(self, detail: bool | None = None) -> PrinterStatus:
        """Ask and decode; with a ``[status.detail]`` query also the detailed status: when the short answer shows a
        fault (``detail=None``), always (``True``) or never (``False``)."""
        spec = self.spec.status
        short = decode(spec, self._ask(spec.query, lambda buf: complete(spec, buf), self.timeout))
        wanted = detail if detail is not None else not short.ready
        if spec.detail is None or not wanted or self._detail_misses >= DETAIL_MISSES:
            return short
        query = spec.detail
        try:
            raw = self._ask(query.query, lambda buf: detailed.complete(query, buf), min(query.timeout, self.timeout))
        except PrinterTimeoutError:
            self._detail_misses += 1
            note = f"no answer to the detailed status query {query.query!r}: the short status stands"
            return PrinterStatus(short.conditions, short.raw, "; ".join(d for d in (short.detail, note) if d))
        self._detail_misses = 0
        return short.merged(detailed.decode(query, raw))

    def print(self, job: bytes, *, check: bool = True) -> PrinterStatus:
        """Send one job; with ``check`` the printer must be ready before and the status after is returned."""
        if check:
            before = self.status()
            if not before.ready:
                raise PrinterNotReadyError(f"{self.url}: not printing: {before.describe()}", before)
        link = self.open()._link
        assert link is not None
        link.write(job)
        return self.status() if check else PrinterStatus(())
