"""Opening ports, reconnect backoff, and a thread that owns one port.

Everything that talks to hardware goes through ``open_port``: a device path
(``/dev/ttyUSB0``, a pty slave, a symlink to one), ``COM3``, or any pyserial
URL (``socket://127.0.0.1:9000``, ``loop://``, ``rfc2217://``, ``hwgrep://``).

Ptys ignore parity and word size (and some kernels refuse to set them), so a
7E1 profile opened on a pty falls back to 8N1; readers of 7-bit protocols mask
every byte with ``0x7F`` anyway, which is also what makes a 7E1 device read as
8N1 work.

Stable API (also used by the scanner reader):

    open_port(url, **serial_settings) -> serial.SerialBase
    Backoff  -- device.backoff: reconnect delays (exponential, full jitter)
    PortWorker  -- a ReaderThread (device.reader_thread): open, serve, report state, back off, reopen
"""
from __future__ import annotations

import logging

import serial

from packgate.device.backoff import Backoff
from packgate.device.errors import PortError
from packgate.device.reader_thread import ReaderThread, StateCallback

try:  # a pty may refuse word size/parity with termios.error (not an OSError)
    import termios

    _OPEN_ERRORS: tuple = (serial.SerialException, OSError, ValueError, termios.error)
except ImportError:  # pragma: no cover - Windows
    _OPEN_ERRORS = (serial.SerialException, OSError, ValueError)

log = logging.getLogger(__name__)

#: pyserial keyword arguments accepted by ``open_port`` (others are refused).
SERIAL_KEYS = frozenset({
    "baudrate", "bytesize", "parity", "stopbits", "xonxoff", "rtscts", "dsrdtr",
    "timeout", "write_timeout", "inter_byte_timeout", "exclusive",
})

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
           "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}


def normalise_settings(settings: dict) -> dict:
    """Map friendly values (parity "E"/"even", bytesize 7, stopbits 1) to pyserial kwargs."""
    unknown = set(settings) - SERIAL_KEYS
    if unknown:
        raise PortError(f"unknown serial setting(s): {', '.join(sorted(unknown))}")
    out = dict(settings)
    if "parity" in out:
        p = str(out["parity"]).strip().upper()[:1] or "N"
        if p not in _PARITY:
            raise PortError(f"bad parity {out['parity']!r}")
        out["parity"] = _PARITY[p]
    if "bytesize" in out:
        out["bytesize"] = int(out["bytesize"])
    if "stopbits" in out:
        sb = float(out["stopbits"])
        out["stopbits"] = int(sb) if sb in (1.0, 2.0) else sb
    return out


def open_port(url: str, **serial_settings) -> serial.SerialBase:
    """Open a serial device path or pyserial URL; raise ``PortError`` when it cannot be opened.

    Default read timeout is 0.1 s (readers must never busy-loop). If the port
    rejects the word size or parity (ptys do), it is reopened at 8N1.
    """
    settings = {"timeout": 0.1, "write_timeout": 1.0}
    settings.update(normalise_settings(serial_settings))
    try:
        return serial.serial_for_url(url, **settings)
    except _OPEN_ERRORS as first:
        relaxed = dict(settings, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE)
        if relaxed != settings:
            try:
                port = serial.serial_for_url(url, **relaxed)
                log.info("%s: %s; opened as 8N1 instead", url, first)
                return port
            except _OPEN_ERRORS:
                pass
        raise PortError(f"cannot open {url}: {first}") from first


class PortWorker(ReaderThread):
    """A thread that owns one port: opens it, calls ``serve`` repeatedly, reopens after failures.

    States reported through ``on_state(state, detail)``: ``"connected"``,
    ``"disconnected"`` (the port went away or could not be opened), ``"retrying"``
    (about to try again), ``"stopped"``. Subclasses implement ``serve(port)``
    (one bounded step, e.g. one read with the port timeout) and may override
    ``on_open(port)``/``on_close()``. ``stop()`` returns within ``timeout`` seconds.
    """

    thread_name = "port-worker"

    def __init__(self, port: str, serial_settings: dict | None = None,
                 on_state: StateCallback | None = None, backoff: Backoff | None = None):
        super().__init__(on_state, backoff or Backoff(base_s=0.1, cap_s=2.0))
        self.port_url = port
        self.serial_settings = dict(serial_settings or {})
        self._port: serial.SerialBase | None = None

    # -- subclass hooks -------------------------------------------------
    def on_open(self, port: serial.SerialBase) -> None:  # pragma: no cover - default no-op
        pass

    def serve(self, port: serial.SerialBase) -> None:
        raise NotImplementedError

    def on_close(self) -> None:  # pragma: no cover - default no-op
        pass

    # -- ReaderThread hooks -----------------------------------------------
    def thread_subject(self) -> str:
        return self.port_url

    def _interrupt(self) -> None:
        port = self._port
        if port is not None:
            try:
                port.cancel_read()  # wakes a blocked read on posix
            except Exception:  # noqa: BLE001 - not all URL handlers implement it
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                port = open_port(self.port_url, **self.serial_settings)
            except PortError as exc:
                self._disconnected(str(exc))
                if not self._retry(self.port_url):
                    break
                continue
            self._port = port
            self.backoff.reset()
            self._set_state("connected", self.port_url)
            try:
                self.on_open(port)
                while not self._stop.is_set():
                    self.serve(port)
            except (serial.SerialException, OSError, PortError) as exc:
                if not self._stop.is_set():
                    self._set_state("disconnected", str(exc) or type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - the port owner never dies; report and reopen
                log.exception("unexpected error serving %s", self.port_url)
                if not self._stop.is_set():
                    self._set_state("disconnected", f"{type(exc).__name__}: {exc}")
            finally:
                self._port = None
                try:
                    port.close()
                except Exception:  # noqa: BLE001
                    pass
                self.on_close()
            if self._stop.is_set() or not self._retry(self.port_url):
                break
        self._set_state("stopped", None)
