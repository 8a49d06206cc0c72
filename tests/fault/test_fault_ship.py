"""Weigh-and-ship (称重发货) across SIGKILL: the passing weighing is the shipment confirmation the WMS forwards to
the sales platform, so a station killed while it confirms must never confirm a shipment twice, and must not
lose one. A real station process (tests/fault/ship_station.py) against the reference upstream on 127.0.0.1,
killed at the named points of the shipment (inside its transaction, just after it, while it is sent, after
the 2xx before it is marked, while it is marked) and at random moments, restarted each time."""
from __future__ import annotations

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

SCRIPT = Path(__file__).with_name("ship_station.py")
ORDERS = ["SO-10009", "SO-10011", "SO-10012", "SO-10013"]
POINTS = [("ship_before_commit", 1), ("ship_after_commit", 1), ("after_send", 1), ("ship_before_commit", 2),
          ("after_2xx_before_mark", 1), ("ship_after_commit", 2), ("during_mark", 1)]


def _run(db: Path, url: str, env: dict[str, str], kill_after_s: float | None = None) -> tuple[int, str]:
    return run_station(SCRIPT, db, url, ORDERS, env, kill_after_s)


@pytest.mark.long
def test_a_station_killed_while_it_ships_never_confirms_a_shipment_twice(tmp_path):
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "upstream.db", seed_demo=True, today=date.today())
    db = tmp_path / "station.db"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PACKGATE_CRASH")}
    killed_at: list[str] = []
    try:
        for point, nth in POINTS:
            code, _ = _run(db, url, {**base, "PACKGATE_CRASH_AT": point, "PACKGATE_CRASH_NTH": str(nth)})
            if code == -signal.SIGKILL:
                killed_at.append(point)
        rng = random.Random(14)
        for _ in range(3):
            code, _ = _run(db, url, base, kill_after_s=rng.uniform(0.8, 2.5))
            if code == -signal.SIGKILL:
                killed_at.append("random")
        for _ in range(3):
            code, out = _run(db, url, base)
            if code == 0:
                break
        assert code == 0 and "done" in out
        # the shipment's own points are reached (how many orders are left for a later run, and how many sends a
        # run makes, depend on timing and batching, so each kind of point must be reached at least once)
        assert "ship_before_commit" in killed_at and "ship_after_commit" in killed_at, killed_at
        assert {"after_send", "after_2xx_before_mark", "during_mark"} & set(killed_at), killed_at
        assert len(killed_at) >= 5, killed_at
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        client = UpstreamClient(url, deadline_s=5)
        for order_id in ORDERS:
            ships = [c for c in client.order_confirmations(order_id)
                     if c["action"] == "pack" and (c.get("payload") or {}).get("shipped")]
            assert len(ships) == 1, (order_id, ships)  # exactly once: never twice, never lost
            assert ships[0]["payload"]["waybill"]
        client.close()
    finally:
        stop()






@pytest.mark.long
def test_the_hub_and_the_station_killed_while_shipping_never_confirm_a_shipment_twice(tmp_path):
    """Through the site hub: the station's labels, waybills and shipments go via the hub, which is SIGKILLed and
    restarted while the station ships (and the station is killed just after a shipment committed)."""
    rng = random.Random(41)
    with station_behind_a_hub(tmp_path, "SHIP_STATION_TOKEN") as site:
        code, _ = run_station(SCRIPT, site.station_db, site.hub.url, ORDERS,
                              {**site.env, "PACKGATE_CRASH_AT": "ship_after_commit"})
        assert code == -signal.SIGKILL
        site.hub.run_station_through_kills(SCRIPT, site.station_db, ORDERS, site.env,
                                           [rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)])
        assert site.hub.kills == 2
        client = UpstreamClient(site.wms, deadline_s=5)
        deadline = time.monotonic() + 60
        ships: dict[str, list] = {}
        while time.monotonic() < deadline:  # the hub relays what the station delivered to it
            ships = {o: [c for c in client.order_confirmations(o)
                         if c["action"] == "pack" and (c.get("payload") or {}).get("shipped")] for o in ORDERS}
            if all(ships.values()):
                break
            time.sleep(0.2)
        client.close()
        assert {o: len(s) for o, s in ships.items()} == {o: 1 for o in ORDERS}, ships
