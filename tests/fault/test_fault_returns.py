"""A return closed across SIGKILL (逆向物流): a real station process (tests/fault/return_station.py) against the
reference upstream on 127.0.0.1, killed inside the close's transaction, just after it, while its confirmations are
sent, after the 2xx before they are marked, and at random moments, then started again until it is done. Nothing is
lost (every step reaches the WMS) and nothing happens twice (one receipt, one item per unit, one close, one refund,
one restock)."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from stations import run_station

from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect
from packgate.sync.upstream import store as wms_store
from packgate.sync.upstream.server import start_in_thread

SCRIPT = Path(__file__).with_name("return_station.py")
ARGS = ["RT-SF-0001", "SKU-007", "SKU-025"]  # RMA-0001: SO-10009's cable and adapter
POINTS = [("return_before_commit", 1), ("return_after_commit", 1), ("after_send", 1),
          ("after_2xx_before_mark", 1), ("during_mark", 1)]


@pytest.mark.long
def test_a_station_killed_while_it_closes_a_return_refunds_it_once(tmp_path):
    wms_db = tmp_path / "wms.db"
    url, stop = start_in_thread("127.0.0.1", 0, wms_db, seed_demo=True, today=date.today())
    db = tmp_path / "station.db"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PACKGATE_CRASH")}
    killed_at: list[str] = []
    lot = _cable_lot(wms_db)
    try:
        for point, nth in POINTS:
            code, _ = run_station(SCRIPT, db, url, ARGS, {**base, "PACKGATE_CRASH_AT": point,
                                                          "PACKGATE_CRASH_NTH": str(nth)})
            if code == -signal.SIGKILL:
                killed_at.append(point)
            if point == "return_before_commit":  # killed inside the close: nothing of it was committed
                with sqlite3.connect(db) as local:
                    assert local.execute("SELECT COUNT(*) FROM sync_outbox WHERE action = 'return_closed'"
                                         ).fetchone()[0] == 0
                    assert local.execute("SELECT state FROM returns").fetchone()[0] == "open"
        rng = random.Random(27)
        for _ in range(2):
            code, _ = run_station(SCRIPT, db, url, ARGS, base, kill_after_s=rng.uniform(0.3, 1.2))
            if code == -signal.SIGKILL:
                killed_at.append("random")
        for _ in range(3):
            code, out = run_station(SCRIPT, db, url, ARGS, base)
            if code == 0:
                break
        assert code == 0 and "done" in out
        assert {"return_before_commit", "return_after_commit"} <= set(killed_at), killed_at
        with sqlite3.connect(db) as local:
            assert local.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            steps = dict(local.execute("SELECT action, COUNT(*) FROM sync_outbox WHERE object_type = 'rma'"
                                       " GROUP BY action").fetchall())
        assert steps == {"return_received": 1, "return_item": 2, "return_graded": 2, "return_closed": 1}
        client = UpstreamClient(url, deadline_s=5)
        try:
            got = json.loads(client.http.request("GET", "/v1/admin/rmas/RMA-0001").body)
            outcomes = json.loads(client.http.request("GET", "/v1/admin/returns/outcomes").body)["outcomes"]
        finally:
            client.close()
        arrived = sorted(c["action"] for c in got["confirmations"])
        assert arrived == sorted(["return_received", "return_item", "return_item", "return_graded",
                                  "return_graded", "return_closed"])  # every step once: never lost, never twice
        assert [(o["rma_id"], o["outcome"]) for o in outcomes] == [("RMA-0001", "refunded")]
        assert _cable_lot(wms_db)["qty"] == lot["qty"] + 1  # restocked once
    finally:
        stop()



def _cable_lot(wms_db: Path) -> dict:
    """SKU-007's one lot as the WMS holds it (the cable an A-grade return goes back into)."""
    conn = connect(str(wms_db))
    try:
        key = conn.execute("SELECT key FROM up_ref WHERE kind = 'lots' AND key LIKE 'SKU-007%'").fetchone()[0]
        return dict(wms_store.get_reference(conn, "lots", key) or {})
    finally:
        conn.close()
