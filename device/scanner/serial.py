"""Serial / USB-CDC barcode scanners: frame the byte stream into scans and interpret them.

    s = SerialScanner("/dev/ttyACM0", suffix="CR", on_scan=print)   # or a pty / pyserial URL
    s.start(); ...; s.stop()                                         # stop() returns within 2 s

Framing is a pure object (``ScanFramer``) fed with bytes and a monotonic time, so it is tested and
fuzzed without a port. Suffixes: ``CR``, ``LF``, ``CRLF``, ``TAB``, ``none`` (a scan ends after
``inter_char_timeout`` seconds of silence) and ``auto`` (CR, LF or CRLF each end a scan: use it
when you do not know how the scanner is programmed). GS (0x1D) and every other byte inside a
scan are passed on untouched; nothing is ever ``strip()``-ed with default arguments.

A partial scan that never gets its suffix is not dropped: after ``stale_timeout`` it is reported
as an ``unknown`` scan whose error names the likely cause (wrong suffix setting).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

from packgate.device.backoff import Backoff
from packgate.device.errors import ReaderError
from packgate.device.reader_thread import call_safely
from packgate.device.scanner.barcode import Scan, SitePatterns, decode_bytes, interpret
from packgate.device.transport import PortWorker

SUFFIXES: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "TAB": b"\t", "none": b""}
SUFFIX_NAMES = (*SUFFIXES, "auto")
_LITERAL = {v.decode("ascii"): k for k, v in SUFFIXES.items() if v}


def suffix_name(suffix: str) -> str:
    """Accept ``"CR"``/``"cr"``/``"\\r"``/``"auto"``...; return the canonical name."""
    if suffix in _LITERAL:
        return _LITERAL[suffix]
    for name in SUFFIX_NAMES:
        if suffix.lower() == name.lower():
            return name
    raise ReaderError(f"unknown scanner suffix {suffix!r}; use one of {', '.join(SUFFIX_NAMES)}")


@dataclass(frozen=True)
class Frame:
    data: bytes
    error: str | None = None


class ScanFramer:
    """Bytes in, complete scans out. Not thread-safe; one per port.

    ``feed(data, now)`` returns the frames completed by ``data``; ``poll(now)`` returns frames
    completed by silence (``none`` mode) or given up on (stale partial, ``stale_timeout``).
    Empty frames (a bare suffix) are ignored.
    """

    def __init__(self, suffix: str = "CR", inter_char_timeout: float = 0.05, stale_timeout: float = 1.0,
                 max_len: int = 8192):
        self.suffix = suffix_name(suffix)
        self.terminator = SUFFIXES.get(self.suffix)  # None for auto
        self.inter_char_timeout = inter_char_timeout
        self.stale_timeout = stale_timeout
        self.max_len = max_len
        self._buf = bytearray()
        self._last = 0.0
        self._after_cr = False

    def reset(self) -> None:
        self._buf.clear()
        self._after_cr = False

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, data: bytes, now: float) -> list[Frame]:
        out: list[Frame] = []
        if not data:
            return out
        self._last = now
        if self.suffix == "none":
            self._buf += data
        elif self.suffix == "auto":
            for b in data:
                if b == 0x0A and self._after_cr:
                    self._after_cr = False
                    continue
                self._after_cr = b == 0x0D
                if b in (0x0D, 0x0A):
                    self._emit(out)
                else:
                    self._buf.append(b)
        else:
            self._buf += data
            term = self.terminator
            while term is not None:
                i = self._buf.find(term)
                if i < 0:
                    break
                chunk = bytes(self._buf[:i])
                del self._buf[: i + len(term)]
                if chunk:
                    out.append(Frame(chunk))
        if len(self._buf) > self.max_len:
            out.append(Frame(bytes(self._buf), f"no {self.suffix} suffix within {self.max_len} bytes; data discarded "
                             "up to here (check the scanner's suffix setting)"))
            self._buf.clear()
        return out

    def _emit(self, out: list[Frame]) -> None:
        if self._buf:
            out.append(Frame(bytes(self._buf)))
            self._buf.clear()

    def poll(self, now: float) -> list[Frame]:
        if not self._buf:
            return []
        idle = now - self._last
        if self.suffix == "none":
            if idle >= self.inter_char_timeout:
                frame = Frame(bytes(self._buf))
                self._buf.clear()
                return [frame]
            return []
        if idle >= self.stale_timeout:
            data = bytes(self._buf)
            self._buf.clear()
            return [Frame(data, self._stale_reason(data))]
        return []

    def _stale_reason(self, data: bytes) -> str:
        hint = ""
        for literal, name in ((b"\r\n", "CRLF"), (b"\r", "CR"), (b"\n", "LF"), (b"\t", "TAB")):
            if data.endswith(literal) and name != self.suffix:
                hint = f"; the data ends with {name}: set suffix {name} (or auto)"
                break
        return f"incomplete scan: no {self.suffix} suffix within {self.stale_timeout:g} s{hint}"

    def deadline(self) -> float | None:
        """Monotonic time at which ``poll`` may next produce a frame, or None."""
        if not self._buf:
            return None
        return self._last + (self.inter_char_timeout if self.suffix == "none" else self.stale_timeout)


def frame_to_scan(frame: Frame, patterns: SitePatterns | None = None, *, gs_substitute: str | None = None,
                  source: str | None = None) -> Scan:
    """Interpret a frame; a framing error turns the scan into kind ``unknown`` with that error."""
    scan = interpret(decode_bytes(frame.data), patterns, gs_substitute=gs_substitute, source=source)
    if frame.error:
        error = frame.error if not scan.error else f"{frame.error}; {scan.error}"
        scan = dataclasses.replace(scan, kind="unknown", error=error)
    return scan


ScanCallback = Callable[[Scan], None]


class SerialScanner(PortWorker):
    """A thread that owns one scanner port and calls ``on_scan(Scan)`` per scan.

    States through ``on_state(state, detail)``: connected / disconnected / retrying / stopped
    (reconnects with backoff after an unplug). ``latest`` is the last scan, ``count`` the number.
    """

    thread_name = "scanner"
    IDLE_READ_S = 1.0  # with no partial scan the read blocks this long (stop() cancels it at once)

    def __init__(self, port: str, suffix: str = "CR", on_scan: ScanCallback | None = None,
                 inter_char_timeout: float = 0.05, *, patterns: SitePatterns | None = None,
                 gs_substitute: str | None = None, stale_timeout: float = 1.0,
                 on_state: Callable[[str, str | None], None] | None = None,
                 serial_settings: dict | None = None, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic):
        settings = {"baudrate": 9600, **(serial_settings or {})}
        # The read timeout bounds how late a silence-terminated scan is seen, and how fast stop() is.
        settings.setdefault("timeout", min(0.1, max(0.005, inter_char_timeout / 2)))
        self._short_read_s = settings["timeout"]
        super().__init__(port, settings, on_state=on_state, backoff=backoff)
        self.framer = ScanFramer(suffix, inter_char_timeout, stale_timeout)
        self.on_scan = on_scan
        self.patterns = patterns
        self.gs_substitute = gs_substitute
        self.clock = clock
        self.latest: Scan | None = None
        self.count = 0

    def serve(self, port) -> None:
        # short reads only while a scan is partly in: an idle scanner wakes its thread once a second
        wait = self.IDLE_READ_S if self.framer.deadline() is None else self._short_read_s
        if port.timeout != wait:
            port.timeout = wait
        waiting = port.in_waiting
        data = port.read(max(1, waiting))
        now = self.clock()
        frames = self.framer.feed(data, now) if data else []
        frames += self.framer.poll(now)
        for frame in frames:
            self._deliver(frame)

    def on_close(self) -> None:
        pending = self.framer.pending
        self.framer.reset()
        if pending:  # never dropped silently: reported for review
            self._deliver(Frame(pending, "scanner disconnected in the middle of a scan"))

    def _deliver(self, frame: Frame) -> None:
        scan = frame_to_scan(frame, self.patterns, gs_substitute=self.gs_substitute, source=f"serial:{self.port_url}")
        self.latest = scan
        self.count += 1
        call_safely(self.on_scan, "on_scan", scan)
