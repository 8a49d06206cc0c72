"""`packgate device scan` and `packgate device badge` (one JSON object per line)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from packgate.device.badge.emulator import BadgeEmulator
from packgate.device.camera.emulator import render_frame, write_video
from packgate.device.cli import device
from packgate.device.emulation.ports import free_udp_port
from packgate.device.scanner.emulator import ScannerEmulator

ROOT = Path(__file__).resolve().parents[2]


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_scan_text():
    r = CliRunner().invoke(device, ["scan", "--text", "]C1010703206980498810ABC|17260228", "--gs-substitute", "|",
                                    "--text", "SO-1", "--pattern", "tote=^TT\\d+$", "--text", "TT5"])
    assert r.exit_code == 0, r.output
    out = lines(r.output)
    assert [o["kind"] for o in out] == ["gs1", "order", "tote"]
    assert out[0]["expiry"] == "2026-02-28" and out[0]["lot"] == "ABC"


def test_scan_serial_port_with_emulator():
    emu = ScannerEmulator()
    stop = threading.Event()

    def keep_scanning():  # the reader opens the port at some point: keep scanning until it has read enough
        while not stop.wait(0.05):
            emu.scan("010703206980498810ABC123\x1d17260228", symbology="]C1", suffix="CR")

    t = threading.Thread(target=keep_scanning, daemon=True)
    t.start()
    try:
        r = CliRunner().invoke(device, ["scan", "--port", emu.path, "--suffix", "CR", "--count", "2", "--timeout", "5"])
    finally:
        stop.set()
        t.join()
        emu.close()
    assert r.exit_code == 0, r.output
    out = [o for o in lines(r.stdout) if "kind" in o]
    assert len(out) == 2 and all(o["kind"] == "gs1" and o["symbology"] == "]C1" for o in out)
    assert "\x1d" in out[0]["raw"] and out[0]["at"][-6] in "+-"  # ISO 8601 with offset


def test_scan_camera_file(tmp_path):
    frames = [render_frame([("qr", "SO-77")], (320, 240))] * 2 + [render_frame([("ean13", "4006381333931")], (320, 240))] * 2
    path = write_video(tmp_path / "c.avi", frames)
    r = CliRunner().invoke(device, ["scan", "--camera", str(path), "--count", "0", "--timeout", "10"])
    assert r.exit_code == 0, r.output
    assert [o["kind"] for o in lines(r.stdout)] == ["order", "gtin"]


def test_scan_usage_errors_and_nothing_read():
    assert CliRunner().invoke(device, ["scan"]).exit_code == 2
    r = CliRunner().invoke(device, ["scan", "--port", "/dev/does-not-exist", "--timeout", "0.3"])
    assert r.exit_code == 1




def test_badge_cli_in_another_process_against_emulator():
    path = f"udp:127.0.0.1:{free_udp_port()}"
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "packgate.device.cli", "badge", "--reader", path, "--count", "2",
                             "--timeout", "15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    try:
        with BadgeEmulator(path) as emu:
            assert emu.tap("04A1B2C3D4E5F6", hold_s=0.3, timeout=8)
            assert emu.tap("01020304", hold_s=0.1, timeout=5)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    got = lines(out)
    assert [o["uid"] for o in got] == ["04A1B2C3D4E5F6", "01020304"] and got[0]["reader"] == path


def test_badge_wedge_reader_missing_device_times_out():
    t0 = time.monotonic()
    r = CliRunner().invoke(device, ["badge", "--reader", "/dev/input/event-none", "--wedge-format", "dec10",
                                    "--timeout", "0.3"])
    assert r.exit_code == 1 and time.monotonic() - t0 < 3
