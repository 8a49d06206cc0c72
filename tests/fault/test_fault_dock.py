"""Dock hand-over across SIGKILL: closing a batch records a ``ship_load`` per parcel and a manifest, which the WMS
turns into shipments; a station or a hub killed while the batch closes (inside the close's transaction, just
after it, while it is sent, after the 2xx before it is marked, while it is marked, at random moments) must
never ship an order twice and must not lose one. A real station process (tests/fault/dock_station.py) against
the reference upstream on 127.0.0.1, and through a real ``packgate site`` hub, restarted after each kill."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
from datetime import date
from pathlib import Path

import pytest
from stations import run_station, station_behind_a_hub

from packgate.sync.client import UpstreamClient
from packgate.sync.upstream.server import start_in_thread

SCRIPT = Path(__file__).with_name("dock_station.py")
ORDERS = ["SO-10007", "SO-10009", "SO-10011", "SO-10013"]  # all booked with SF
POINTS = [("dock_before_commit", 1), ("dock_before_commit", 1), ("dock_after_commit", 1), ("after_send", 1),
          ("after_2xx_before_mark", 1), ("during_mark", 1)]


def shipments(wms_url: str) -> dict[str, int]:
    client = UpstreamClient(wms_url, deadline_s=5)
    try:
        rows = json.loads(client.http.request("GET", "/v1/admin/shipments").body)["shipments"]
        loads = {o: sum(c["action"] == "ship_load" for c in client.order_confirmations(o)) for o in ORDERS}
    finally:
        client.close()
    shipped = {o: sum(r["order_id"] == o for r in rows) for o in ORDERS}
    assert set(loads.values()) <= {0, 1}, loads  # a ship_load is applied once, however often it was sent
    return shipped


@pytest.mark.long
def test_a_station_killed_while_it_closes_a_hand_over_ships_each_order_once(tmp_path):
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True, today=date.today())
    db = tmp_path / "station.db"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PACKGATE_CRASH")}
    killed_at: list[str] = []
    try:
        for point, nth in POINTS:
            code, _ = run_station(SCRIPT, db, url, ORDERS, {**base, "PACKGATE_CRASH_AT": point,
                                                            "PACKGATE_CRASH_NTH": str(nth)})
            if code == -signal.SIGKILL:
                killed_at.append(point)
            if point == "dock_before_commit":  # killed inside the close: nothing of it is in the outbox
                with sqlite3.connect(db) as conn:
                    assert conn.execute("SELECT COUNT(*) FROM sync_outbox WHERE action IN ('ship_load', 'manifest')"
                                        ).fetchone()[0] == 0
                    assert conn.execute("SELECT COUNT(*) FROM dock_batches WHERE closed_at IS NOT NULL"
                                        ).fetchone()[0] == 0
        rng = random.Random(15)
        for _ in range(2):
            code, _ = run_station(SCRIPT, db, url, ORDERS, base, kill_after_s=rng.uniform(0.5, 1.5))
            if code == -signal.SIGKILL:
                killed_at.append("random")
        for _ in range(3):
            code, out = run_station(SCRIPT, db, url, ORDERS, base)
            if code == 0:
                break
        assert code == 0 and "done" in out
        assert killed_at.count("dock_before_commit") == 2 and "dock_after_commit" in killed_at, killed_at
        assert {"after_send", "after_2xx_before_mark", "during_mark"} & set(killed_at), killed_at
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT COUNT(*) FROM dock_batches").fetchone()[0] == 1  # reopened, never doubled
        assert shipments(url) == {o: 1 for o in ORDERS}  # exactly once: never twice, never lost
    finally:
        stop()


@pytest.mark.long
def test_the_hub_killed_while_a_hand_over_is_delivered_ships_each_order_once(tmp_path):
    """Through the site hub: the station closes the batch (and is killed just after), its ship_loads and
    manifest go to the hub, which is SIGKILLed and restarted while they arrive and are relayed to the WMS."""
    rng = random.Random(16)
    with station_behind_a_hub(tmp_path, "DOCK_STATION_TOKEN") as site:
        code, _ = run_station(SCRIPT, site.station_db, site.hub.url, ORDERS,
                              {**site.env, "PACKGATE_CRASH_AT": "dock_after_commit"})
        assert code == -signal.SIGKILL
        site.hub.run_station_through_kills(SCRIPT, site.station_db, ORDERS, site.env,
                                           [rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4)])
        assert site.hub.kills == 2
        deadline = time.monotonic() + 60
        shipped: dict[str, int] = {}
        while time.monotonic() < deadline:  # the hub relays what the station delivered to it
            shipped = shipments(site.wms)
            if all(shipped.values()):
                break
            time.sleep(0.2)
        assert shipped == {o: 1 for o in ORDERS}
