"""A wave of orders the WMS releases reaches the tables through the hub in seconds: the hub's pull commits a
``reference`` change on the feed, and a station agent linked to the hub pulls the reference data when it sees one,
not at its next ``upstream.refresh_s`` (an hour here). The fast order pull announces a wave it brings first (a
transaction per 1,000 orders, one announcement per page), and the slower full refresh then stores none of them again."""
from __future__ import annotations

import json
import time
from pathlib import Path

import requests
from polling import eventually

from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate as station_config
from packgate.sync.hub import store

TOKEN = "token-of-station-01-abcdef"  # the site fixture's token of ST01


def test_orders_the_wms_releases_reach_a_linked_agent_through_the_feed(site, wms: str, tmp_path: Path):
    cfg = station_config({"station.id": "ST01", "station.data_dir": str(tmp_path / "ST01"), "web.port": 0,
                          "upstream.url": site.url, "upstream.kind": "hub", "upstream.token": TOKEN,
                          "upstream.refresh_s": 3600, "scale.enabled": False, "scanner.enabled": False,
                          "badge.enabled": False})
    agent = Agent(cfg, start_devices=False).start()
    try:
        assert eventually(lambda: agent.cache.get_order("SO-10011") is not None)  # its first pull, at start
        assert eventually(lambda: site.hub.feed.streams == 1)
        wave = [{"order_id": f"SO-WAVE-{k:03d}", "tote": f"T-W{k:03d}", "packaging": "BOX-S", "priority": 0,
                 "status": "open", "lines": [{"sku": "SKU-001", "qty": 1 + k % 2}]} for k in range(300)]
        assert requests.post(f"{wms}/v1/admin/orders", json={"items": wave}, timeout=10).status_code == 200
        assert agent.cache.get_order("SO-WAVE-299") is None
        site.clock.advance(site.hub.config["site.refresh_s"])
        released = time.monotonic()
        assert site.hub.tick()["reference"]["changed"] == 300  # the hub pulled the wave
        assert eventually(lambda: agent.cache.get_order("SO-WAVE-299") is not None, timeout=5)
        assert time.monotonic() - released < 5  # not at the station's next hourly refresh
        assert all(agent.cache.get_order(f"SO-WAVE-{k:03d}") for k in range(300))
    finally:
        agent.stop()


def test_a_wave_the_fast_pull_brings_is_announced_with_its_page_and_not_stored_again(site, wms: str):
    site.hub.tick()  # the first reference refresh sets the cursor the fast pull starts from
    with site.hub.db.read() as conn:
        before = store.ref_cursor(conn)
        seen = store.feed_head(conn)
    wave = [{"order_id": f"SO-SURGE-{k:04d}", "tote": f"T-S{k:04d}", "packaging": "BOX-S", "priority": 0,
             "status": "released", "lines": [{"sku": "SKU-001", "qty": 1}]} for k in range(2500)]
    assert requests.post(f"{wms}/v1/admin/orders", json={"items": wave}, timeout=30).status_code == 200
    assert site.hub.pull_orders()["ok"]
    with site.hub.db.read() as conn:
        told = [e for e in store.feed_since(conn, seen, 5000) if e["kind"] == "reference"]
        after = store.ref_cursor(conn)
    assert [e["data"]["rows"] for e in told] == [2500]  # one announcement per page, with its last chunk
    assert int(told[0]["data"]["cursor"]) == before + 2500 == after
    with site.hub.db.read() as conn:  # three transactions: the page's chunks, each numbered on from the last
        versions = [r["version"] for r in conn.execute("SELECT version FROM hub_ref WHERE kind = 'orders' AND key"
                                                         " LIKE 'SO-SURGE-%' ORDER BY version")]
    assert versions == list(range(before + 1, before + 2501))
    page = json.loads(site.hub.reference_pages.page(before, 5000))
    assert sorted(o["order_id"] for o in page["orders"]) == [o["order_id"] for o in wave]
    site.clock.advance(site.hub.config["site.refresh_s"])
    assert site.hub.tick()["reference"]["changed"] == 0  # the slow refresh finds them stored as they are
    with site.hub.db.read() as conn:
        assert store.ref_cursor(conn) == after  # no new versions: the stations fetch nothing twice
