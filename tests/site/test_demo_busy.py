"""``packgate demo --busy`` as a user starts it (a real process, real ports): the wave is released, picked and packed
at both tables, a parcel is blocked by its weight, the WMS holds one order, table 2 goes offline, and the hub's report
and alerts show it."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from packgate.device.clock import parse_iso
from packgate.station.demo.floor import TOKENS


def _until(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    return check()


def test_demo_busy_starts_and_the_floor_gets_busy(tmp_path: Any) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-P", "-m", "packgate.station.runtime.cli", "demo", "--busy",
                             "--busy-pace", "0.3", "--port", "0", "--hub-port", "0", "--upstream-port", "0",
                             "--no-camera", "--data-dir", str(tmp_path / "demo")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines: list[str] = []  # read all along: the demo logs as it goes, a full pipe would stop it

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)

        threading.Thread(target=read, daemon=True).start()
        banner = _until(lambda: any("Press Ctrl-C" in line for line in list(lines)), 60)
        assert banner, "".join(lines[-30:])
        hub = next(m.group(1) for line in list(lines) if (m := re.search(r"site hub\s+(http://127\.0\.0\.1:\d+)/", line)))
        assert any("busy floor" in line for line in lines)
        bearer = {"Authorization": f"Bearer {TOKENS['ST01']}"}

        def report() -> dict[str, Any] | None:
            got = requests.get(f"{hub}/api/reports/day", headers=bearer, timeout=10).json()
            done = got["parcels"] >= 6 and got["weight_failures"] >= 1 and got["interceptions"] == 1
            return got if done and {t["station"] for t in got["per_table"] if t["parcels"]} == {"ST01", "ST02"} else None

        figures = _until(report, 80)
        assert figures, "".join(line for line in lines if "busy floor" in line)[-3000:]
        assert figures["backlog"] > 0  # the seeded orders nobody reached

        assert _until(lambda: any("Packing table 2 went offline" in line for line in list(lines)), 60)
        time.sleep(6)  # table 2 beat every 2 s while it ran
        health = requests.get(f"{hub}/healthz", timeout=10).json()
        seen = {s["station"]: parse_iso(s["last_seen_at"]) for s in health["stations"]}
        assert (parse_iso(health["time"]) - seen["ST02"]).total_seconds() > 5
        assert (parse_iso(health["time"]) - seen["ST01"]).total_seconds() < 5
        alerts = requests.get(f"{hub}/api/alerts", headers=bearer, timeout=10).json()
        assert any("no notification channel" in w or "escalation.notify is empty" in w for w in alerts["warnings"])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
