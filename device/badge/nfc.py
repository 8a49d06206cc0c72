"""NFC badge readers through nfcpy: one event per tap, canonical UID strings.

    r = BadgeReader("usb", on_badge=print)          # or usb:054c:06c3, tty:USB0:pn532, udp:127.0.0.1:54321
    r.start(); ...; r.stop()                        # stop() returns within 2 s

Canonical UID: upper-case hex in transmission order (``04A1B2C3D4E5F6``), the NFCID1 for type A
cards (4/7/10 bytes), the IDm for FeliCa, the PUPI for type B.

How it reads: ``clf.connect(rdwr={'on-discover': ...}, terminate=...)``. The UID is taken from the
sense response in ``on-discover``, which returns False so the card is never activated (no
card-type-specific commands, works with nfcpy's ``udp`` simulator and real readers alike). Every
path polls the targets a real reader polls: 106A (MIFARE/NTAG), 106B and 212F (FeliCa, IDm).

On ``udp:`` paths nfcpy's ``sense()`` tries each target in turn and the udp driver waits a fixed
1.0 s for each answer (``sense_tta/ttb/ttf`` -> ``_recv_data(1.0, ...)``), while ``terminate`` only
runs between whole sense cycles: a card-less cycle over three targets would take 3 s. The reader
therefore caps that wait at ``udp_reply_s`` (a simulated card on 127.0.0.1 answers within
milliseconds, as a real card answers a real reader's field) and cuts it short on ``stop()``.
``terminate`` runs between sense cycles: it ends ``connect`` when ``stop()`` was called, paces the
polling, and notices that a card has gone (not seen for ``release_s``). A card held on the reader
gives one event; it gives another only after it was taken away.
"""
from __future__ import annotations

import time
from typing import Callable

import nfc
import nfc.clf

from packgate.device.backoff import Backoff
from packgate.device.errors import ReaderError
from packgate.device.reader_thread import ReaderThread, call_safely
from packgate.device.waker import Waker

ALL_TARGETS = ("106A", "106B", "212F")


class _PacedUdpReceive:
    """Replaces a udp device's ``_recv_data``: waits at most ``reply_s`` and returns early on ``stop``.

    Each wait blocks on the device's socket (the driver opens a new one after each mute) and on the reader's
    ``Waker`` (not a short spin): an idle reader wakes once per reply window, and ``stop()`` ends the wait at once."""

    def __init__(self, device, reply_s: float, stop, waker: Waker) -> None:
        self.device, self.recv, self.reply_s, self.stop, self.waker = device, device._recv_data, reply_s, stop, waker

    def __call__(self, timeout, *brty_list):
        end = time.monotonic() + (self.reply_s if timeout is None else min(timeout, self.reply_s))
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                break
            sock = self.device.socket
            if not self.waker.wait([sock.fileno()] if sock is not None else [], left):
                continue
            try:
                return self.recv(left, *brty_list)  # a frame is waiting (one of another bit rate: wait on)
            except nfc.clf.TimeoutError:
                continue
        raise nfc.clf.TimeoutError("no answer")


def target_uid(target) -> bytes | None:
    """The card identifier from a sensed ``RemoteTarget`` (before activation)."""
    sdd = getattr(target, "sdd_res", None)
    if sdd:
        return bytes(sdd)
    sensf = getattr(target, "sensf_res", None)
    if sensf and len(sensf) >= 9:
        return bytes(sensf[1:9])  # IDm
    sensb = getattr(target, "sensb_res", None)
    if sensb and len(sensb) >= 5:
        return bytes(sensb[1:5])  # PUPI
    rid = getattr(target, "rid_res", None)
    if rid and len(rid) >= 6:
        return bytes(rid[2:6])  # type 1 (Topaz) UID0-3
    return None


class BadgeReader(ReaderThread):
    """A thread owning one nfcpy reader; ``on_badge(uid_hex_upper)`` once per tap.

    States through ``on_state(state, detail)``: connected / disconnected / retrying / stopped.
    """

    thread_name = "nfc"

    def __init__(self, path: str = "usb", on_badge: Callable[[str], None] | None = None, *,
                 on_state: Callable[[str, str | None], None] | None = None,
                 targets: tuple[str, ...] | None = None, release_s: float = 0.3, poll_interval: float = 0.05,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic,
                 udp_reply_s: float = 0.25):
        super().__init__(on_state, backoff or Backoff(base_s=0.2, cap_s=5.0))
        self.path = path
        self.on_badge = on_badge
        self.targets = tuple(targets) if targets else ALL_TARGETS
        self.udp_reply_s = udp_reply_s
        self.release_s = release_s
        self.poll_interval = poll_interval
        self.clock = clock
        self._waker = Waker()  # stop() ends the udp driver's wait for a reply at once
        self.latest: str | None = None
        self.count = 0
        self.present: str | None = None
        self._last_seen = 0.0
        self._cycle_saw = False
        self._next_cycle = 0.0

    # ------------------------------------------------------------ callbacks from nfcpy
    def on_discover(self, target) -> bool:
        uid = target_uid(target)
        if uid:
            self.seen(uid.hex().upper())
        return False  # never activate: the UID is all we need

    def seen(self, uid: str) -> None:
        """A sense cycle saw ``uid``: report it unless it is the card already lying there."""
        self._last_seen = self.clock()
        self._cycle_saw = True
        if uid == self.present:
            return
        self.present = uid
        self.latest = uid
        self.count += 1
        call_safely(self.on_badge, "on_badge", uid)

    def end_of_cycle(self) -> bool:
        """Called by nfcpy between sense cycles; True ends ``connect``."""
        if self._stop.is_set():
            return True
        now = self.clock()
        if not self._cycle_saw and self.present is not None and now - self._last_seen >= self.release_s:
            self.present = None  # card taken away: the next sighting is a new tap
        self._cycle_saw = False
        if self._next_cycle > now:
            self._stop.wait(self._next_cycle - now)
        self._next_cycle = max(now, self._next_cycle) + self.poll_interval
        return self._stop.is_set()

    # ------------------------------------------------------------ thread
    def _interrupt(self) -> None:
        self._waker.wake()

    def thread_subject(self) -> str:
        return self.path

    def _open(self):
        clf = nfc.ContactlessFrontend()
        try:
            ok = clf.open(self.path)
        except (OSError, ValueError, nfc.clf.Error) as exc:
            raise ReaderError(f"cannot open NFC reader {self.path!r}: {exc}") from exc
        if not ok:
            raise ReaderError(f"no NFC reader found at {self.path!r}")
        if self.path.startswith("udp"):
            clf.device._recv_data = _PacedUdpReceive(clf.device, self.udp_reply_s, self._stop, self._waker)
        return clf

    def _run(self) -> None:
        rdwr = {"targets": list(self.targets), "on-discover": self.on_discover,
                "iterations": 1, "interval": self.poll_interval, "beep-on-connect": False}
        while not self._stop.is_set():
            try:
                clf = self._open()
            except ReaderError as exc:
                self._disconnected(str(exc))
                if not self._retry(self.path):
                    break
                continue
            self.backoff.reset()
            self._set_state("connected", str(clf))
            try:
                result = clf.connect(rdwr=rdwr, terminate=self.end_of_cycle)
                if not self._stop.is_set():  # connect() gave up: the device went away or failed
                    self._set_state("disconnected", f"{self.path}: reader stopped responding ({result!r})")
            except Exception as exc:  # noqa: BLE001 - nfcpy drivers raise many types
                self._set_state("disconnected", f"{self.path}: {type(exc).__name__}: {exc}")
            finally:
                try:
                    clf.close()
                except Exception:  # noqa: BLE001
                    pass
                self.present = None
            if self._stop.is_set() or not self._retry(self.path):
                break
        self._waker.close()
        self._set_state("stopped")
