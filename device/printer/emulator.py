"""A label-printer emulator for every printer profile: real status bytes over TCP or a pty, and a record of
what it printed, the way python-escpos's Dummy keeps ``output``.

    emu = PrinterEmulator(get_profile("zebra-zpl"))
    port = emu.start_tcp(0)                  # or path = emu.start_pty()
    emu.set_state("paper_out")               # or "head_open", "ribbon_low", ...; set_state() resumes
    emu.received                             # every job byte (status queries left out)
    emu.printed                              # PrintedLabel per label: raw bytes, parsed Label, texts, barcodes
    emu.stop()

Status queries (the short one and the detailed one, ``~HQES`` / ``<ESC>!S``) are answered wherever they appear in
the stream (like ZPL's ``~`` commands); a fault the short answer has no flag for shows as its ``status.fallback``
there and by name in the detailed answer. ``old_firmware = True`` leaves the detailed query unanswered. Labels
that arrive while the printer cannot print wait in ``pending`` and print on resume, as a real printer's buffer.
Godex answers only after ``^XSET,IMMEDIATE,1`` (the profile's ``status.init``), as the manual says.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from packgate.device.emulation.links import LinkedEmulator
from packgate.device.errors import LabelError
from packgate.device.printer import detail as detailed
from packgate.device.printer.conditions import CONDITIONS, WARNINGS
from packgate.device.printer.label import Label
from packgate.device.printer.languages import LANGUAGES
from packgate.device.printer.status import encode
from packgate.device.profiles import Profile


@dataclass(frozen=True)
class PrintedLabel:
    raw: bytes
    label: Label | None
    error: str = ""

    @property
    def texts(self) -> list[str]:
        return self.label.texts if self.label else []

    @property
    def barcodes(self) -> list[str]:
        return self.label.barcodes if self.label else []


class PrinterEmulator(LinkedEmulator):
    kind = "printer"
    def __init__(self, profile: Profile, *, tick: float = 0.01):
        if profile.kind != "printer" or profile.printer is None:
            raise ValueError(f"profile {profile.name!r} is not a printer profile")
        super().__init__()
        self.name = profile.name
        self.profile = profile
        self.spec = profile.printer
        self.language = LANGUAGES[self.spec.language]
        self.tick = tick
        self._lock = threading.RLock()
        self._conditions: frozenset[str] = frozenset()
        self.mute = False  # True: never answers status queries (a printer that hangs)
        self.old_firmware = False  # True: never answers the detailed status query
        self.detail_queries = 0
        self._immediate = not self.spec.status.init
        self._inbuf = b""
        self._jobbuf = b""
        self.received = bytearray()
        self.printed: list[PrintedLabel] = []
        self.pending: list[bytes] = []
        self.queries = 0
        self.label_printed = threading.Condition(self._lock)

    # -- state -----------------------------------------------------------------------------------
    def set_state(self, *conditions: str) -> None:
        unknown = [c for c in conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition(s) {unknown}; one of {', '.join(CONDITIONS)}")
        with self._lock:
            self._conditions = frozenset(conditions)
            self._flush()

    @property
    def conditions(self) -> frozenset[str]:
        return self._conditions

    def _blocked(self) -> bool:
        return any(c not in WARNINGS for c in self._conditions)

    def wait_printed(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` labels have printed (tests)."""
        with self.label_printed:
            return self.label_printed.wait_for(lambda: len(self.printed) >= count, timeout)


    # -- the stream ------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Take host bytes; return the status answers to send back (also used without a transport)."""
        status = self.spec.status
        detail_query = status.detail.query if status.detail is not None else b""
        tokens = [tok for tok in (status.query, status.init, detail_query) if tok]
        replies = b""
        with self._lock:
            buf = self._inbuf + data
            while True:
                hits = [(buf.find(tok), -len(tok), tok) for tok in tokens if tok in buf]
                if not hits:
                    break
                at, _, tok = min(hits)
                self._job(buf[:at])
                buf = buf[at + len(tok):]
                if tok == status.init:
                    self._immediate = True
                elif tok == detail_query:
                    self.detail_queries += 1
                    if self._immediate and not self.mute and not self.old_firmware and status.detail is not None:
                        replies += detailed.encode(status.detail, self._conditions)
                else:
                    self.queries += 1
                    if self._immediate and not self.mute:
                        replies += encode(status, self._conditions)
            keep = max((n for tok in tokens for n in range(len(tok) - 1, 0, -1) if buf.endswith(tok[:n])), default=0)
            self._job(buf[:len(buf) - keep])
            self._inbuf = buf[len(buf) - keep:]
        return replies

    def _job(self, data: bytes) -> None:
        if not data:
            return
        self.received += data
        labels, self._jobbuf = self.language.split(self._jobbuf + data)
        self.pending.extend(labels)
        self._flush()

    def _flush(self) -> None:
        if self._blocked():
            return
        while self.pending:
            raw = self.pending.pop(0)
            try:
                printed = PrintedLabel(raw, self.language.parse(raw, self.spec.dpi))
            except LabelError as exc:
                printed = PrintedLabel(raw, None, str(exc))
            self.printed.append(printed)
            self.label_printed.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            link = self._link
            fds = link.filenos() if link is not None else []
            if not fds:
                self._stop.wait(self.tick)
                continue
            try:
                self.wait_for_link(fds, self.IDLE_WAIT_S)
            except (OSError, ValueError):
                self._stop.wait(self.tick)
                continue
            data = link.read() if link is not None else b""
            if data:
                replies = self.feed(data)
                if replies and link is not None:
                    link.write(replies)
