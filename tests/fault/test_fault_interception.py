"""Interception (订单拦截) across a SIGKILLed hub: the reference WMS on 127.0.0.1, a real ``packgate site`` process
killed right after the WMS cancels an order (before or after it pulled the decision) and restarted on the same port and
database, and a station agent behind it. The table learns the cancellation when the hub is back and refuses the next
step; when the packer went on packing while the hub was down (the table could not know), the pack never reaches the
WMS as a pack: it is refused for good and shown as a conflict."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from stations import start_hub

from packgate.device.emulation.ports import free_tcp_port
from packgate.station.demo.floor import Terminal
from packgate.station.demo.rig import DemoWorld
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.client import UpstreamClient
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES
from packgate.sync.upstream.server import start_in_thread

TOKEN = "token-of-station-01-abcdef"


def wait_until(check: Callable[[], Any], within_s: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within_s:
            raise AssertionError(f"not within {within_s} s")
        time.sleep(0.02)
    return time.monotonic() - start


class Site:
    def __init__(self, tmp_path: Path):
        self.world = DemoWorld(date.today())
        self.wms_url, self._stop_wms = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True,
                                                       today=self.world.today)
        self.wms = UpstreamClient(self.wms_url, deadline_s=5)
        self.port, self.db = free_tcp_port(), str(tmp_path / "hub.db")
        self.hub_url = f"http://127.0.0.1:{self.port}"
        self.hub: subprocess.Popen | None = start_hub(self.port, self.db, self.wms_url, TOKEN)
        cfg = validate({"station.id": "ST01", "station.name": "Packing table 1", "station.data_dir": str(tmp_path / "st"),
                        "web.port": 0, "upstream.url": self.hub_url, "upstream.kind": "hub", "upstream.token": TOKEN,
                        "upstream.backoff_base_s": 0.2, "upstream.backoff_cap_s": 1.0, "hub.heartbeat_s": 0.5,
                        "hub.feed_wait_s": 2, "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False})
        self.agent = Agent(cfg, start_devices=False).start()
        self.station = self.agent.station
        self.ui = Terminal(self.agent.url, self.world)

    def kill_hub(self) -> None:
        assert self.hub is not None
        self.hub.send_signal(signal.SIGKILL)
        assert self.hub.wait(timeout=10) == -signal.SIGKILL

    def restart_hub(self) -> None:
        self.hub = start_hub(self.port, self.db, self.wms_url, TOKEN)

    def hub_order(self, order_id: str) -> dict:
        answer = requests.get(f"{self.hub_url}/v1/orders/{order_id}", headers={"Authorization": f"Bearer {TOKEN}"},
                              timeout=5)
        return answer.json() if answer.status_code == 200 else {}

    def knows(self, order_id: str, status: str) -> bool:
        word = self.station.interception.word(order_id)
        return word is not None and word.status == status

    def item(self, sku: str) -> str:
        return self.world.item_code(sku, self.world.good_lot_index(sku))

    def scan(self, code: str) -> dict:
        return self.ui.act("scan", object_id=code)

    def wms_actions(self, order_id: str) -> list[str]:
        return [c["action"] for c in self.wms.order_confirmations(order_id)]

    def stop(self) -> None:
        self.agent.stop()
        if self.hub is not None:
            self.hub.kill()
            self.hub.wait(timeout=10)
        self.wms.close()
        self._stop_wms()


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    built = Site(tmp_path)
    try:
        yield built
    finally:
        built.stop()


def settled(site: Site) -> bool:
    return site.station.outbox.status()["depth"] == 0 and site.hub_order("SO-10009").get("claim") is not None


@pytest.mark.parametrize("kill", ["before_the_hub_pulled_it", "after_the_hub_pulled_it"])
def test_the_table_learns_a_cancel_when_the_hub_is_back_and_refuses_the_next_step(site, kill):
    assert site.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert site.scan("SO-10009")["code"] == "order_opened"
    assert site.scan(site.item("SKU-007"))["code"] == "item_accepted"
    wait_until(lambda: settled(site) and len(site.wms_actions("SO-10009")) == 2, 10.0)
    before = site.wms_actions("SO-10009")
    site.wms.decide("SO-10009", "cancel", {"reason": "customer refund"})
    if kill == "after_the_hub_pulled_it":
        wait_until(lambda: (site.hub_order("SO-10009").get("wms") or {}).get("status") == "cancelled", 5.0)
    site.kill_hub()
    time.sleep(0.5)
    site.restart_hub()
    wait_until(lambda: site.knows("SO-10009", "cancelled"), 10.0)
    refused = site.scan(site.item("SKU-025"))
    assert refused["code"] == "intercepted" and "customer refund" in refused["message"]
    wait_until(lambda: site.wms_actions("SO-10009") != before, 25.0)  # the killed hub's relay lease runs out first
    time.sleep(0.5)
    assert site.wms_actions("SO-10009") == before + ["intercept"]


def test_what_was_packed_while_the_hub_was_down_never_reaches_the_wms_as_a_pack(site):
    assert site.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert site.scan("SO-10009")["code"] == "order_opened"
    wait_until(lambda: settled(site), 10.0)
    site.kill_hub()
    site.wms.decide("SO-10009", "cancel", {"reason": "customer refund"})  # the table cannot know
    for sku in ("SKU-007", "SKU-025"):
        assert site.scan(site.item(sku))["code"] == "item_accepted"
    grams = str(site.world.expected_g("SO-10009"))
    assert site.ui.act("weigh", payload={"grams": grams, "stable": True})["code"] == "weight_ok"
    assert site.ui.act("pack")["code"] == "packed"  # offline: a station works a whole shift without its hub
    site.restart_hub()
    wait_until(lambda: site.knows("SO-10009", "cancelled"), 10.0)
    wait_until(lambda: site.station.outbox.status()["depth"] == 0, 15.0)

    def conflict_shown() -> bool:  # refused at the hub (the station's conflicts) or by the WMS (the hub's)
        return bool(site.station.supervisor_overview()["conflicts"]) or _hub_conflict(site)

    wait_until(conflict_shown, 25.0)
    time.sleep(0.5)
    assert "pack" not in site.wms_actions("SO-10009")
    status = next(o for o in site.wms.get_order_changes(since="0")["orders"] if o["order_id"] == "SO-10009")["status"]
    assert status == "cancelled"  # never undone


def _hub_conflict(site: Site) -> bool:
    """The hub's dashboard lists an order_cancelled conflict (read from its database, as the dashboard does)."""
    conn = sqlite3.connect(site.db)
    try:
        rows = conn.execute("SELECT detail FROM hub_conflicts WHERE kind = 'order_cancelled'").fetchall()
    finally:
        conn.close()
    return any(json.loads(r[0]).get("order_id") == "SO-10009" for r in rows)
