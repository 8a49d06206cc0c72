"""The demo's scan input (``echo SO-10009 > PATH``): each line reaches the scanner's pty with the scanner's CR,
and closing it ends its thread at once (it blocks on its pty until then)."""
from __future__ import annotations

import os
import select

from packgate.device.scanner.emulator import ScannerEmulator
from packgate.station.demo.rig import ScanInput


def test_a_line_echoed_into_the_scan_input_reaches_the_scanner_and_close_ends_its_thread(tmp_path):
    scanner = ScannerEmulator(tmp_path / "scanner0")
    host = os.open(scanner.path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    scan_input = ScanInput(tmp_path / "scan-input", scanner)
    try:
        with open(scan_input.path, "wb", buffering=0) as typed:
            typed.write(b"SO-10009\n")
        got = b""
        while not got.endswith(b"\r"):
            assert select.select([host], [], [], 10)[0], f"only {got!r} reached the scanner"
            got += os.read(host, 64)
        assert got == b"SO-10009\r"
    finally:
        scan_input.close()
        os.close(host)
        scanner.close()
    assert not scan_input._thread.is_alive()
