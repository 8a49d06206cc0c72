"""A barcode scanner on a real pty: writes the bytes a serial/USB-CDC scanner would send.

    emu = ScannerEmulator()                 # stable path (a symlink) so unplug/replug keeps it
    reader opens emu.path
    emu.scan("010703206980498810ABC\\x1d17260228", symbology="]C1", suffix="\\r")
    emu.garbage(16); emu.unplug(); emu.replug(); emu.close()
"""
from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from packgate.device.emulation.pty import PtyPair
from packgate.device.scanner.serial import SUFFIXES, suffix_name


class ScannerEmulator:
    def __init__(self, link: str | os.PathLike | None = None, default_suffix: str = "CR",
                 symbology: str | None = None):
        self._tmpdir: str | None = None
        if link is None:
            self._tmpdir = tempfile.mkdtemp(prefix="packgate-scanner-")
            link = Path(self._tmpdir) / "scanner0"
        self.link = Path(link)
        self.default_suffix = default_suffix
        self.default_symbology = symbology
        self.pty: PtyPair | None = PtyPair(link=self.link)
        self.written = 0

    @property
    def path(self) -> str:
        return str(self.link)

    @property
    def plugged(self) -> bool:
        return self.pty is not None

    def write(self, data: bytes) -> int:
        """Raw bytes to the host; 0 when unplugged."""
        if self.pty is None:
            return 0
        n = self.pty.write(data)
        self.written += n
        return n

    def encode(self, text: str, symbology: str | None = None, suffix: str | None = None) -> bytes:
        """The exact bytes of one scan: [AIM id] + UTF-8 text + suffix (name like "CRLF" or literal)."""
        sym = symbology if symbology is not None else self.default_symbology
        suffix = self.default_suffix if suffix is None else suffix
        term = SUFFIXES[suffix_name(suffix)] if suffix != "" else b""
        return (sym or "").encode("ascii") + text.encode("utf-8") + term

    def scan(self, text: str, symbology: str | None = None, suffix: str | None = None,
             char_gap: float = 0.0) -> bytes:
        """Send one scan; with ``char_gap`` the bytes trickle one by one. Returns the bytes sent."""
        data = self.encode(text, symbology, suffix)
        if char_gap <= 0:
            self.write(data)
        else:
            for i in range(len(data)):
                self.write(data[i:i + 1])
                time.sleep(char_gap)
        return data

    def garbage(self, n: int = 32, seed: int | None = None) -> bytes:
        """Random bytes (line noise, wrong baud rate): no suffix at the end."""
        rng = random.Random(seed)
        data = bytes(rng.randrange(256) for _ in range(n)).replace(b"\r", b"").replace(b"\n", b"")
        self.write(data)
        return data

    def unplug(self) -> None:
        """Close the pty: the reader's next read fails; the path disappears until ``replug``."""
        if self.pty is not None:
            self.pty.close()
            self.pty = None

    def replug(self) -> str:
        """A fresh pty behind the same path (like a USB scanner plugged back in)."""
        if self.pty is None:
            self.pty = PtyPair(link=self.link)
        return self.path

    def close(self) -> None:
        self.unplug()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "ScannerEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
