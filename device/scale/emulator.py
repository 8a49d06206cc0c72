"""A scale emulator for every scale profile: the profile's own encoder speaks the real bytes over a pty or TCP.

    emu = ScaleEmulator(profile, grams=Decimal("0"))   # variant="echo": a form from [emulator.variants.echo]
    path = emu.start_pty()            # a stable symlink to a pty slave; or port = emu.start_tcp(0)
    emu.set_weight(Decimal("1234.5"), settle_s=0.3)   # motion frames (settle curve + noise), then stable
    emu.fault("garbage" | "unplug" | "overload" | "underload" | None)   # None clears (and replugs)
    emu.stop()

Polled profiles answer the commands in ``[emulator.commands]`` (weight, stable = answer once stable,
stream/stop, status, text:<reply>); unknown commands get ``emulator.unknown``. Streaming profiles send a
frame every ``stream_interval`` s. For 7E1/7O1 profiles the parity bit is computed and set in bit 7
(ptys carry 8 bits; the reader strips it). Host bytes are masked to 7 bits when the profile is 7-bit.
"""
from __future__ import annotations

import math
import random
import threading
import time
from decimal import Decimal
from typing import Callable

from packgate.device.emulation.links import LinkedEmulator
from packgate.device.profiles import Profile
from packgate.device.scale.parsers.common import EmuState
from packgate.device.scale.reading import GRAMS_PER_UNIT

FAULTS = (None, "garbage", "unplug", "overload", "underload")


def with_parity(data: bytes, parity: str) -> bytes:
    """Set bit 7 so that each byte has even ("E") or odd ("O") parity over its 8 bits."""
    out = bytearray()
    for b in data:
        b &= 0x7F
        ones = bin(b).count("1")
        if (parity == "E" and ones % 2) or (parity == "O" and ones % 2 == 0):
            b |= 0x80
        out.append(b)
    return bytes(out)


class ScaleEmulator(LinkedEmulator):
    kind = "scale"

    def __init__(self, profile: Profile, grams: Decimal | str | int = Decimal(0), *, noise: bool = True,
                 seed: int | None = None, stream_interval: float | None = None, tick: float = 0.01,
                 monotonic: Callable[[], float] = time.monotonic, variant: str | None = None):
        if profile.kind != "scale" or profile.emulator is None:
            raise ValueError(f"profile {profile.name!r} is not a scale profile")
        super().__init__()
        self.name = profile.name
        self.profile = profile
        self.spec = profile.emulator
        self.variant = variant
        self.codec = profile.emulator_codec(variant)  # a field variant answers in another form of the protocol
        self.unit = self.spec.unit
        self.decimals = self.spec.decimals
        self.capacity_g = Decimal(self.spec.capacity_g)
        self.noise = noise
        self.rng = random.Random(seed)
        self.stream_interval = stream_interval if stream_interval is not None else self.spec.stream_interval
        self.tick = tick
        self._mono = monotonic
        self._lock = threading.RLock()
        self._from = self._target = Decimal(grams)
        self._t0 = self._mono()
        self._settle = 0.0
        self._fault: str | None = None
        self.streaming = profile.poll.mode == "stream"
        self._pending_stable = False
        self._inbuf = bytearray()
        self._next_stream = 0.0
        self.frames_sent = 0
        self.commands_seen: list[str] = []

    # -- weight model ------------------------------------------------------------------------
    def set_weight(self, grams: Decimal | str | int, settle_s: float = 0.3) -> None:
        with self._lock:
            self._from = self.current_grams()
            self._target = Decimal(grams)
            self._t0 = self._mono()
            self._settle = max(0.0, settle_s)

    def settled(self) -> bool:
        return self._mono() - self._t0 >= self._settle

    def current_grams(self) -> Decimal:
        with self._lock:
            elapsed = self._mono() - self._t0
            if self._settle <= 0 or elapsed >= self._settle:
                return self._target
            frac = Decimal(str(round(math.exp(-4.0 * elapsed / self._settle), 6)))
            g = self._target + (self._from - self._target) * frac
            if self.noise:
                step = GRAMS_PER_UNIT.get(self.unit, Decimal(1)) * Decimal(1).scaleb(-self.decimals)
                g += step * self.rng.randint(-3, 3)
            return g

    def state(self) -> EmuState:
        with self._lock:
            grams = self.current_grams()
            settled = self.settled()
            fault = self._fault
        factor = GRAMS_PER_UNIT.get(self.unit, Decimal(1))
        shown = (grams / factor).quantize(Decimal(1).scaleb(-self.decimals))
        if fault == "overload" or grams > self.capacity_g:
            status = "overload"
        elif fault == "underload":
            status = "underload"
        else:
            status = "ok" if settled else "motion"
        return EmuState(shown, self.unit, self.decimals, status)

    def frame(self, template: str | None = None) -> bytes:
        """The bytes the scale would send now (parity bit applied for 7-bit profiles)."""
        return self._wire(self.codec.encode(self.state(), template))

    def _wire(self, data: bytes) -> bytes:
        s = self.profile.serial
        return with_parity(data, s.parity) if s.bytesize == 7 and s.parity in ("E", "O") else data

    # -- faults ----------------------------------------------------------------------------------
    def fault(self, kind: str | None) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self._lock:
            previous, self._fault = self._fault, kind
            if kind == "unplug" and self._link is not None:
                self._link.unplug()
            elif previous == "unplug" and kind != "unplug" and self._link is not None:
                self._link.replug()

    def unplug(self) -> None:
        self.fault("unplug")

    def replug(self) -> None:
        self.fault(None)


    # -- the loop ------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if not data or self._link is None or self._fault == "unplug":
            return
        if self._fault == "garbage" and self.rng.random() < 0.5:
            junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 8)))
            self._link.write(junk + self._wire(self.profile.framing.end))
        self._link.write(data)
        self.frames_sent += 1

    def _handle(self, command: str) -> None:
        self.commands_seen.append(command)
        action = self.spec.commands.get(command)
        if action is None:
            self._send(self._wire(self.spec.unknown))
        elif action == "weight":
            self._send(self.frame())
        elif action == "stable":
            if self.state().status == "motion":
                self._pending_stable = True
            else:
                self._send(self.frame())
        elif action == "stream":
            self.streaming = True
        elif action == "stop":
            self.streaming = self.profile.poll.mode == "stream"
        elif action == "status":
            self._send(self.frame("status"))
        elif action.startswith("text:"):
            self._send(self._wire(action[5:].encode("latin-1")))

    def _commands(self, data: bytes) -> None:
        self._inbuf += bytes(b & 0x7F for b in data)
        if self.spec.command_terminated:
            while True:
                cut = [i for i in (self._inbuf.find(b"\r"), self._inbuf.find(b"\n")) if i >= 0]
                if not cut:
                    if len(self._inbuf) > 256:
                        self._inbuf.clear()
                    return
                i = min(cut)
                token = self._inbuf[:i].decode("latin-1").strip()
                del self._inbuf[:i + 1]
                if token:
                    self._handle(token)
        else:
            while self._inbuf:
                token = chr(self._inbuf.pop(0))
                if token.strip():
                    self._handle(token)

    def _wait_s(self) -> float:
        """How long the loop may block on the link: a tick while a reading settles, until the next frame when
        streaming, else ``IDLE_WAIT_S`` (a host's command wakes it at once)."""
        if self._pending_stable:
            return self.tick
        if self.streaming:
            return min(self.IDLE_WAIT_S, max(self.tick, self._next_stream - self._mono()))
        return self.IDLE_WAIT_S

    def _run(self) -> None:
        while not self._stop.is_set():
            link = self._link
            fds = link.filenos() if link is not None and self._fault != "unplug" else []
            if link is None or not fds:
                self._stop.wait(self.tick)
                continue
            try:
                self.wait_for_link(fds, self._wait_s())
            except (OSError, ValueError):
                self._stop.wait(self.tick)
                continue
            with self._lock:
                if self._fault == "unplug" or link is None:
                    continue
                data = link.read() if link is not None else b""  # non-blocking; also accepts a new TCP client
                if data:
                    self._commands(data)
                if self._pending_stable and self.state().status != "motion":
                    self._pending_stable = False
                    self._send(self.frame())
                now = self._mono()
                if self.streaming and now >= self._next_stream:
                    self._next_stream = now + self.stream_interval
                    self._send(self.frame())
