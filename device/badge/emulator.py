"""An NFC badge on nfcpy's ``udp`` simulator: a type A card or a FeliCa card that a ``BadgeReader`` can sense.

    emu = BadgeEmulator("udp:127.0.0.1:54321")
    emu.tap("04A1B2C3D4E5F6")      # blocks until the reader has read the UID (True) or timeout (False)
    emu.tap_felica("0123456789ABCDEF")   # FeliCa (Type 3): IDm, PMm, system code answered to SENSF_REQ
    emu.close()

The emulator is the *listening* side of the udp driver (it binds the port; the reader sends to it):
``clf.listen(LocalTarget('106A'), ...)`` with ``sdd_res`` = the UID; nfcpy answers the anticollision
itself (cascade tag 0x88 for 7/10-byte UIDs). A FeliCa card is ``clf.listen(LocalTarget('212F'), ...)`` with
``sensf_res`` = 01 + IDm + PMm + system code: the udp driver's ``listen_ttf`` answers each SENSF_REQ whose
system code matches (FFFF = any) and adds the system code when the request code is 1, as a card does.
Only one listener may own a port at a time.

A tap = the card is present until the reader has completed anticollision for it (the final
SEL_RES went out), plus ``hold_s``; then it is taken away. Works with the reader in another thread
of the same process or in another process.
"""
from __future__ import annotations

import threading
import time

import nfc
import nfc.clf

from packgate.device.errors import ReaderError


class BadgeEmulator:
    def __init__(self, path: str = "udp:127.0.0.1:54321"):
        if not path.startswith("udp"):
            raise ReaderError(f"the badge emulator needs an nfcpy udp path, not {path!r}")
        self.path = path
        self.clf = nfc.ContactlessFrontend()
        if not self.clf.open(path):
            raise ReaderError(f"cannot open {path!r}")
        dev = self.clf.device
        self._send, self._recv = dev._send_data, dev._recv_data
        dev._send_data, dev._recv_data = self._spy_send, self._interruptible_recv
        self._read_at: float | None = None
        self._hold_s = 0.0
        self._deadline = 0.0
        self._closed = threading.Event()
        self.reads = 0  # completed anticollisions seen, all taps

    # The udp driver calls these two; they let a tap end as soon as it has been read.
    def _spy_send(self, brty, data, addr):
        self._send(brty, data, addr)
        complete_a = len(data) == 1 and not data[0] & 0x04  # SEL_RES with "UID complete"
        felica = brty.endswith("F") and len(data) >= 18 and data[0] == len(data) and data[1] == 0x01  # SENSF_RES
        if complete_a or felica:
            self.reads += 1
            if self._read_at is None:
                self._read_at = time.monotonic()

    def _tap_over(self) -> bool:
        now = time.monotonic()
        if self._closed.is_set() or now >= self._deadline:
            return True
        return self._read_at is not None and now >= self._read_at + self._hold_s

    def _interruptible_recv(self, timeout, *brty_list):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._tap_over():
                raise nfc.clf.TimeoutError("tap over")
            step = 0.02 if end is None else min(0.02, max(0.0, end - time.monotonic()))
            try:
                return self._recv(step, *brty_list)
            except nfc.clf.TimeoutError:
                if end is not None and time.monotonic() >= end:
                    raise

    def tap(self, uid: str, hold_s: float = 0.1, timeout: float = 3.0, sens_res: str = "4400",
            sel_res: str = "00") -> bool:
        """Present the card ``uid`` (hex) until read + ``hold_s`` or ``timeout``; True if it was read."""
        uid_bytes = bytes.fromhex(uid)
        if len(uid_bytes) not in (4, 7):
            # 10-byte (triple) UIDs: nfcpy 1.0.4's udp listener matches the cascade-level-3 SEL_REQ
            # against 0x95 instead of 0x97, so it never completes; real readers handle them.
            raise ReaderError(f"the udp badge emulator does 4- or 7-byte type A UIDs, not {len(uid_bytes)} bytes")
        target = nfc.clf.LocalTarget("106A")
        target.sens_res = bytearray.fromhex(sens_res)
        target.sdd_res = bytearray(uid_bytes)
        target.sel_res = bytearray.fromhex(sel_res)
        return self._present(target, hold_s, timeout)

    def tap_felica(self, idm: str, pmm: str = "01E0000000FFFF00", system_code: str = "12FC", hold_s: float = 0.1,
                   timeout: float = 3.0, bitrate: str = "212F") -> bool:
        """Present a FeliCa card (IDm 8 bytes hex) until it has been sensed + ``hold_s``; True if it was read."""
        parts = {"IDm": (idm, 8), "PMm": (pmm, 8), "system code": (system_code, 2)}
        for label, (value, size) in parts.items():
            try:
                ok = len(bytes.fromhex(value)) == size
            except ValueError:
                ok = False
            if not ok:
                raise ReaderError(f"FeliCa {label} must be {size} bytes of hex, not {value!r}")
        if bitrate not in ("212F", "424F"):
            raise ReaderError(f"FeliCa bit rate is 212F or 424F, not {bitrate!r}")
        target = nfc.clf.LocalTarget(bitrate)
        target.sensf_res = bytearray.fromhex("01" + idm + pmm + system_code)
        return self._present(target, hold_s, timeout)

    def _present(self, target, hold_s: float, timeout: float) -> bool:
        self._read_at = None
        self._hold_s = hold_s
        self._deadline = time.monotonic() + timeout
        while not self._tap_over():
            started = time.monotonic()
            self.clf.listen(target, max(0.05, self._deadline - started))
            if time.monotonic() - started < 0.01:  # port taken by another listener: don't spin
                time.sleep(0.05)
        self.clf.device.mute()  # card gone: close the socket so nothing answers any more
        return self._read_at is not None

    def close(self) -> None:
        self._closed.set()
        try:
            self.clf.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> "BadgeEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
