"""A wave of orders the WMS releases reaches the tables through the hub in seconds: the hub's pull commits a
``reference`` change on the feed, and a station agent linked to the hub pulls the reference data when it sees one,
not at its next ``upstream.refresh_s`` (an hour here)."""
from __future__ import annotations

import time
from pathlib import Path

import requests
from polling import eventually

from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate as station_config

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
