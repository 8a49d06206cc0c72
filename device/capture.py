"""Captures: a device's raw bytes with their timestamps, recorded by ``packgate device sniff`` and read back by
``packgate device profile new`` (and by ``device decode --capture``).

A capture file is JSON lines: a header, then one line per chunk as it was read (or written, when the sniffer polls)::

    {"capture": "packgate", "version": 1, "port": "/dev/ttyUSB0", "serial": {...}, "started": "2026-...+08:00"}
    {"t": 0.013, "dir": "rx", "hex": "02 2b 30 30 31 32 33 34 32 31 44 03"}
    {"t": 0.500, "dir": "tx", "hex": "57"}

Invariants: ``t`` is seconds since the start on the monotonic clock (never wall time, so a clock change cannot
reorder chunks); the header's ``started`` is ISO 8601 with its UTC offset; bytes are kept exactly as read (no
parity masking, no trimming); a malformed file is refused with its line number, never half read.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from packgate.device.clock import Clock, isoformat
from packgate.device.errors import CaptureError, PortError

FORMAT, VERSION = "packgate", 1


@dataclass(frozen=True)
class Chunk:
    t: float  # seconds since the capture started (monotonic)
    direction: str  # "rx" (from the device) or "tx" (sent by the sniffer)
    data: bytes


@dataclass
class Capture:
    port: str
    serial: dict[str, Any]
    started: str
    chunks: list[Chunk] = field(default_factory=list)

    def data(self, direction: str = "rx") -> bytes:
        return b"".join(c.data for c in self.chunks if c.direction == direction)

    def sent(self) -> list[bytes]:
        """What the sniffer sent (its poll command), in order."""
        return [c.data for c in self.chunks if c.direction == "tx"]

    def header(self) -> dict[str, Any]:
        return {"capture": FORMAT, "version": VERSION, "port": self.port, "serial": self.serial,
                "started": self.started}

    def lines(self) -> list[str]:
        return [json.dumps(self.header())] + [
            json.dumps({"t": round(c.t, 6), "dir": c.direction, "hex": c.data.hex(" ")}) for c in self.chunks]

    def write(self, path: str | Path) -> None:
        Path(path).write_text("\n".join(self.lines()) + "\n", encoding="utf-8")


def read(path: str | Path) -> Capture:
    """A capture file; CaptureError names the line that is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read the capture: {exc}") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise CaptureError(f"{path}: empty file, not a capture (record one with `packgate device sniff`)")
    try:
        head = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise CaptureError(f"{path}:1: not a capture header: {exc}") from exc
    if not isinstance(head, dict) or head.get("capture") != FORMAT or head.get("version") != VERSION:
        raise CaptureError(f"{path}:1: not a packgate capture (version {VERSION}) header")
    capture = Capture(str(head.get("port", "")), dict(head.get("serial") or {}), str(head.get("started", "")))
    for number, line in enumerate(lines[1:], 2):
        try:
            row = json.loads(line)
            chunk = Chunk(float(row["t"]), str(row["dir"]), bytes.fromhex(row["hex"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CaptureError(f"{path}:{number}: not a capture line ({type(exc).__name__}: {exc})") from exc
        if chunk.direction not in ("rx", "tx"):
            raise CaptureError(f"{path}:{number}: dir must be rx or tx, got {chunk.direction!r}")
        capture.chunks.append(chunk)
    return capture


def sniff(url: str, settings: dict[str, Any], seconds: float, *, poll: bytes = b"", every: float = 0.5,
          max_bytes: int = 1 << 20, clock: Clock | None = None, stop: threading.Event | None = None,
          on_chunk: Callable[[Chunk], None] | None = None) -> Capture:
    """Record what ``url`` sends for ``seconds`` (monotonic), writing ``poll`` every ``every`` s when given.

    ``url`` may be pyserial's ``spy://DEVICE?file=...`` to get its hexdump as well. PortError when the port
    cannot be opened or goes away (what was read until then is in the exception's ``capture``)."""
    from packgate.device.transport import open_port

    clock = clock or Clock()
    stop = stop or threading.Event()
    port = open_port(url, **settings, timeout=0.05)
    capture = Capture(url, {k: v for k, v in settings.items()}, isoformat(clock.now()))
    begin = clock.monotonic()
    next_poll = begin
    read_total = 0

    def keep(direction: str, data: bytes) -> None:
        chunk = Chunk(clock.monotonic() - begin, direction, data)
        capture.chunks.append(chunk)
        if on_chunk is not None:
            on_chunk(chunk)

    try:
        while not stop.is_set() and clock.monotonic() - begin < seconds and read_total < max_bytes:
            if poll and clock.monotonic() >= next_poll:
                port.write(poll)
                keep("tx", poll)
                next_poll += every
            data = port.read(max(1, port.in_waiting))
            if data:
                read_total += len(data)
                keep("rx", bytes(data))
    except (OSError, ValueError) as exc:  # pyserial's SerialException is an OSError
        error = PortError(f"{url}: the port went away while sniffing: {exc}")
        error.capture = capture
        raise error from exc
    finally:
        port.close()
    return capture
