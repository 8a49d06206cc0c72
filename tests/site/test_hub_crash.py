"""SIGKILL the hub process during traffic: every confirmation reaches the WMS exactly once.

A real station outbox and worker deliver to a hub running as its own process (``packgate site``);
the hub is killed at random moments and restarted on the same database and port. At the end the
WMS (the reference upstream) holds each confirmation once, and the hub's database is intact.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from packgate.device.backoff import Backoff
from packgate.device.emulation.ports import free_tcp_port
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.outbox import Outbox, outbox_status
from packgate.sync.upstream.server import start_in_thread as start_wms
from packgate.sync.worker import OutboxWorker

TOKEN = "token-of-station-01-abcdef"
TOTAL = 240
KILLS = 4




def start_hub(port: int, db: str, wms: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "packgate.station.runtime.cli", "site", "--port", str(port),
                             "--db", db, "--upstream", wms, "--station", f"ST01={TOKEN}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    assert "listening" in proc.stdout.readline()
    return proc


@pytest.mark.long
def test_hub_sigkilled_during_traffic_relays_everything_exactly_once(tmp_path):
    rng = random.Random(7)
    wms, stop_wms = start_wms("127.0.0.1", 0, tmp_path / "wms.db", strict_orders=False)
    port, hub_db = free_tcp_port(), str(tmp_path / "hub.db")
    hub = start_hub(port, hub_db, wms)
    station_db = str(tmp_path / "station.db")
    outbox = Outbox(station_db, "ST01")
    client = UpstreamClient(f"http://127.0.0.1:{port}", deadline_s=2, token=TOKEN)
    worker = OutboxWorker(station_db, client, batch_size=10, backoff=Backoff(0.02, 0.3), idle_s=0.02,
                          recheck_s=0.05).start()
    conn = connect(station_db)
    kill_at = sorted(rng.sample(range(20, TOTAL - 20), KILLS))
    acked = []
    try:
        for n in range(TOTAL):
            with write_tx(conn):
                conf = outbox.enqueue(conn, action="scan", object_type="order", object_id=f"SO-{n % 13:05d}",
                                      operator="E001", device=None, location="ST01", payload={"n": n})
            acked.append(conf["id"])
            worker.wake()
            time.sleep(0.004)
            if kill_at and n == kill_at[0]:
                kill_at.pop(0)
                time.sleep(rng.uniform(0.0, 0.05))
                hub.send_signal(signal.SIGKILL)
                hub.wait()
                hub = start_hub(port, hub_db, wms)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = requests.get(f"{wms}/v1/admin/stats", timeout=5).json()
            if outbox_status(conn, outbox.clock.now())["depth"] == 0 and stats["confirmations"] >= TOTAL:
                break
            time.sleep(0.1)
        stats = requests.get(f"{wms}/v1/admin/stats", timeout=5).json()
        assert stats["confirmations"] == TOTAL and stats["effects"] == TOTAL and stats.get("rejected", 0) == 0
        assert outbox_status(conn, outbox.clock.now())["dead"] == 0
        with sqlite3.connect(hub_db) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert check.execute("SELECT COUNT(*) FROM hub_confirmations").fetchone()[0] == TOTAL
        upstream = sorted(c for n in range(13) for c in
                          [x["id"] for x in requests.get(f"{wms}/v1/orders/SO-{n:05d}/confirmations",
                                                         timeout=5).json()["confirmations"]])
        assert upstream == sorted(acked)
    finally:
        worker.stop()
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(hub.pid, signal.SIGKILL)
        stop_wms()
