"""`packgate demo` as a person runs it: it serves the kiosk, and Ctrl-C stops everything cleanly."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PACKGATE = Path(sys.executable).with_name("packgate")


@pytest.mark.long
def test_demo_serves_the_kiosk_and_stops_on_ctrl_c(tmp_path):
    proc = subprocess.Popen([str(PACKGATE), "demo", "--port", "0", "--upstream-port", "0", "--hub-port", "0", "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        match = re.search(r"kiosk\s+(http://127\.0\.0\.1:\d+)/", text)
        assert match, text
        page = requests.get(match.group(1) + "/", timeout=5)
        assert page.status_code == 200 and "demo-panel" in page.text
        health = requests.get(match.group(1) + "/healthz", timeout=5).json()
        assert {name: dev["state"] for name, dev in health["devices"].items()} == {
            "scale": "connected", "scanner": "connected", "badge": "connected", "printer": "connected",
            "camera": "connected"}  # table 1 films (--no-camera leaves it out)
        assert re.search(r"camera\s+table 1 films \S+camera-table\.avi", text), text
        sync = re.findall(r"sync \d\s+(packgate sync status --db \S+)", text)
        assert len(sync) == 2, text
        for command in sync:  # what the banner prints works as printed
            status = subprocess.run([str(PACKGATE), *command.split()[1:]], capture_output=True, text=True, timeout=30)
            assert status.returncode == 0 and "depth" in status.stdout.lower(), status
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for station in ("ST01", "ST02"):
        db = sqlite3.connect(tmp_path / station / "station" / "station.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert re.search(r"kiosk 2\s+http://127\.0\.0\.1:\d+/", text) and re.search(r"site hub\s+http://", text), text
