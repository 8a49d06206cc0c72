"""Running the crash harness's station scripts and a site hub as real processes, to SIGKILL them."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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


class HubUnderFire:
    """A ``packgate site`` hub that the test SIGKILLs and restarts on the same port and database."""

    def __init__(self, port: int, db: str, wms: str, token: str):
        self.port, self.db, self.wms, self.token = port, db, wms, token
        self.url = f"http://127.0.0.1:{port}"
        self.kills = 0
        self.proc = start_hub(port, db, wms, token)

    def kill_and_restart(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        self.proc = start_hub(self.port, self.db, self.wms, self.token)

    def run_station_through_kills(self, script: Path, station_db: Path, orders: list[str], env: dict[str, str],
                                  delays: list[float]) -> str:
        """Run the station script against the hub, killing the hub after each of ``delays`` seconds while
        the station works; run it again (no kills) until it prints "done". Returns its last stdout."""
        out = ""
        for attempt in range(6):
            proc = subprocess.Popen([sys.executable, str(script), str(station_db), self.url, *orders], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for delay in delays if attempt == 0 else []:
                time.sleep(delay)
                self.kill_and_restart()
            out, err = proc.communicate(timeout=120)
            assert proc.returncode in (0, -signal.SIGKILL), err[-3000:]
            if proc.returncode == 0 and "done" in out:
                return out
        raise AssertionError(f"the station never finished: {out[-500:]}")

    def stop(self) -> None:
        stop_hub(self.proc)


HUB_TOKEN = "token-of-station-01-abcdef"


@dataclass
class HubSite:
    wms: str  # the reference upstream, seeded with the demo orders
    hub: HubUnderFire
    station_db: Path
    env: dict[str, str]  # for the station script: no crash point, the station's hub token under its variable


@contextmanager
def station_behind_a_hub(tmp_path: Path, token_env: str) -> Iterator[HubSite]:
    """A WMS, a hub relaying to it and a station database for the script; on leaving, the hub's database
    passes SQLite's integrity check and everything is stopped."""
    from datetime import date

    from packgate.device.emulation.ports import free_tcp_port
    from packgate.sync.upstream.server import start_in_thread

    wms, stop_wms = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True, today=date.today())
    hub = HubUnderFire(free_tcp_port(), str(tmp_path / "hub.db"), wms, HUB_TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKGATE_CRASH")} | {token_env: HUB_TOKEN}
    try:
        yield HubSite(wms, hub, tmp_path / "station.db", env)
        with sqlite3.connect(hub.db) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        hub.stop()
        stop_wms()
