"""Running the crash harness's station scripts and a site hub as real processes, to SIGKILL them."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_station(script: Path, db: Path, url: str, orders: list[str], env: dict[str, str],
                kill_after_s: float | None = None) -> tuple[int, str]:
    """Run ``script DB URL ORDER...`` to its end (or SIGKILL it after ``kill_after_s``); ``(returncode, stdout)``."""
    proc = subprocess.Popen([sys.executable, str(script), str(db), url, *orders], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), err[-3000:]
    return proc.returncode, out


def start_hub(port: int, db: str, wms: str, token: str) -> subprocess.Popen:
    """``packgate site`` for station ST01 (``token``) relaying to ``wms``, once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "packgate.station.runtime.cli", "site", "--port", str(port),
                             "--db", db, "--upstream", wms, "--station", f"ST01={token}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and "listening" in proc.stdout.readline()
    return proc


def stop_hub(hub: subprocess.Popen) -> None:
    hub.send_signal(signal.SIGTERM)
    try:
        hub.wait(timeout=5)
    except subprocess.TimeoutExpired:
        hub.kill()
        hub.wait()
