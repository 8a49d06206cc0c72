"""ScaleReader: the thread that owns a scale's port, polls or listens, frames, decodes, reports.

    r = ScaleReader(port, profile, on_reading=cb, on_state=cb2); r.start(); r.latest; r.stats(); r.stop()

* Polled profiles: the poll command is written every ``poll_interval`` s (profile default).
* Streaming profiles: ``poll.start_command`` (if any) is written once per connection.
* Frames whose checksum or shape is wrong are counted in ``frames_bad`` and not delivered; acknowledgement
  lines of two-step commands (Radwag 'S A') are counted in ``frames_ack`` and not delivered;
  bytes dropped while re-synchronising are counted in ``bytes_skipped``.
* Protocol-valid error/overload frames are delivered (status error/overload/underload).
* Stability: the frame's flag, or with ``stability.mode = "repeat"`` N equal consecutive weights.
* 7-bit profiles: every byte is masked with 0x7F (parity bit stripped), so a 7E1 scale also reads over a pty
  or an 8N1 USB adapter.
* Bytes arriving for ``NOT_UNDERSTOOD_S`` seconds without one good frame (a wrong profile, baud rate or output
  mode): on_state("not_understood", counts); the next good frame reports "connected" again. Undecodable
  frames are counted in ``frames_undecoded`` (bad frames and skipped bytes alike count as bytes not understood).
* Port gone (USB pulled, pty closed, TCP reset): on_state("disconnected", why), then backoff retries
  (on_state("retrying")), and on_state("connected") when it is back; readings resume.
Callbacks run on the reader thread; keep them short.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import serial

from packgate.device.backoff import Backoff
from packgate.device.profiles import Profile
from packgate.device.reader_thread import call_safely
from packgate.device.scale.decoding import ScaleDecoder
from packgate.device.scale.framing import ScaleFramer
from packgate.device.scale.reading import Reading
from packgate.device.transport import PortWorker


class ScaleReader(PortWorker):
    thread_name = "scale-reader"
    IDLE_READ_S = 1.0  # a streaming scale's read blocks this long when silent (stop() cancels it at once)
    SETTLE_S = 0.3  # on open, a polled scale's answers to what came before (a probe's half commands) are dropped
    NOT_UNDERSTOOD_S = 3.0  # bytes without a good frame for this long: "not_understood"

    def __init__(self, port: str, profile: Profile, on_reading: Callable[[Reading], None] | None = None,
                 on_state: Callable[[str, str | None], None] | None = None, *, poll_interval: float | None = None,
                 backoff: Backoff | None = None, read_timeout: float = 0.05, monotonic: Callable[[], float] = time.monotonic):
        if profile.kind != "scale" or profile.codec is None:
            raise ValueError(f"profile {profile.name!r} is not a scale profile")
        self.read_timeout = read_timeout
        settings = dict(profile.serial.as_kwargs(), timeout=read_timeout)
        super().__init__(port, settings, on_state, backoff)
        self.profile = profile
        self.on_reading = on_reading
        self.poll_interval = poll_interval if poll_interval is not None else profile.poll.interval
        self._monotonic = monotonic
        self.decoder = ScaleDecoder(profile)
        self.frames_undecoded = 0  # bad frames since the last good one
        self._undecoded_since: float | None = None  # when bytes began arriving without a good frame
        self._last_poll = float("-inf")
        self._lock = threading.Lock()

    @property
    def framer(self) -> ScaleFramer:
        return self.decoder.framer

    @property
    def latest(self) -> Reading | None:
        return self.decoder.latest

    @property
    def frames_ok(self) -> int:
        return self.decoder.frames_ok

    @property
    def frames_bad(self) -> int:
        return self.decoder.frames_bad

    @property
    def frames_ack(self) -> int:
        return self.decoder.frames_ack

    @property
    def bytes_skipped(self) -> int:
        return self.decoder.bytes_skipped

    def stats(self) -> dict:
        return {"frames_ok": self.frames_ok, "frames_bad": self.frames_bad, "frames_ack": self.frames_ack,
                "bytes_skipped": self.bytes_skipped, "frames_undecoded": self.frames_undecoded, "state": self.state}

    # -- PortWorker hooks ------------------------------------------------------------------
    def on_open(self, port: serial.SerialBase) -> None:
        self.framer.reset()
        self._last_poll = float("-inf")
        self._undecoded_since, self.frames_undecoded = None, 0
        try:
            port.reset_input_buffer()  # stale bytes from before (re)connection
        except (serial.SerialException, OSError, AttributeError):
            pass
        if self.profile.poll.mode == "poll":
            self._settle(port)
        if self.profile.poll.start_command:
            port.write(self.profile.poll.start_command)

    def _settle(self, port: serial.SerialBase) -> None:
        """End whatever half command the scale still holds (from a probe, or another program) with the
        command's own line ending, and drop the answers: a polled scale speaks only when asked."""
        command = self.profile.poll.command
        ending = command[len(command.rstrip(b"\r\n")):]
        try:
            if ending:
                port.write(ending)
            deadline = self._monotonic() + self.SETTLE_S
            while self._monotonic() < deadline and not self._stop.is_set():
                waiting = port.in_waiting
                if waiting:
                    port.read(waiting)
                self._stop.wait(0.02)
        except (serial.SerialException, OSError):
            return
        self.framer.reset()

    def serve(self, port: serial.SerialBase) -> None:
        poll = self.profile.poll
        wait = self.IDLE_READ_S
        if poll.mode == "poll":
            now = self._monotonic()
            if now - self._last_poll >= self.poll_interval:
                self._last_poll = now
                port.write(poll.command)
            # block until the answer or the next poll is due, never in short slices
            wait = max(self.read_timeout, self._last_poll + self.poll_interval - now)
        if abs((port.timeout or 0) - wait) > 0.001:
            port.timeout = wait
        data = port.read(max(1, port.in_waiting))
        if data:
            self.feed(data)
            self._judge_understood()

    def _judge_understood(self) -> None:
        """After bytes arrived: report "not_understood" once they have come for a while without a good frame."""
        now = self._monotonic()
        if self._undecoded_since is None:
            self._undecoded_since = now
        elif self.state == "connected" and now - self._undecoded_since >= self.NOT_UNDERSTOOD_S:
            self._set_state("not_understood", f"{self.frames_undecoded} undecodable frame(s), "
                                              f"{self.bytes_skipped} byte(s) skipped; profile {self.profile.name}")

    # -- decoding --------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Reading]:
        """Frame and decode bytes (also usable without a port, e.g. by the benchmark)."""
        out = []
        for reading in self.decoder.decode(data):
            if reading.extra.get("bad_frame"):
                self.frames_undecoded += 1
                continue
            self._understood()
            if reading.extra.get("ack"):
                continue
            out.append(reading)
            call_safely(self.on_reading, "on_reading", reading)
        return out

    def _understood(self) -> None:
        self._undecoded_since, self.frames_undecoded = None, 0
        if self.state == "not_understood":
            self._set_state("connected", self.port_url)

    def on_close(self) -> None:
        self.framer.reset()

    def wait_for(self, predicate: Callable[[Reading], bool], timeout: float) -> Reading | None:
        """Poll ``latest`` until ``predicate`` holds (for CLIs and tests); None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.latest
            if r is not None and predicate(r):
                return r
            self._stop.wait(0.01)
        return None
