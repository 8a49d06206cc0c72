"""Issue 10's measurement repeated with the hub: two real station agents (devices off) pointing at a real
hub on 127.0.0.1, which relays to the real reference WMS. The clock is the real one plus an offset the test
moves (the hub's ticker is driven by hand), so 12-minute deadlines take no time and the feed is real time."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest
import requests
from playwright.sync_api import expect
from site_tables import wait_until

from packgate.device.emulation.ports import free_tcp_port
from packgate.station import store
from packgate.station.demo.floor import Terminal
from packgate.station.demo.rig import DemoWorld
from packgate.station.demo.selftest import OffsetClock
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.common.http import DeadlineHTTP
from packgate.sync.hub import store as hub_store
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES

TOKENS = {"ST01": "token-of-station-01-abcdef", "ST02": "token-of-station-02-abcdef"}
NAMES = {"ST01": "Packing table 1", "ST02": "Packing table 2"}
MEASURED = {"escalation.first_after_min": 0.5, "escalation.second_after_min": 1.0}  # as in the issue


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()



class Table:
    def __init__(self, agent: Agent, world: DemoWorld):
        self.agent, self.station = agent, agent.station
        self.ui = Terminal(agent.url, world)

    def status(self, order_id: str) -> str | None:
        order = self.station.catalog.order(order_id)
        return order.status if order else None

    def own_escalations(self) -> list[dict]:
        with self.station.parts.lock:
            return store.escalations(self.station.parts.conn, open_only=False)


@pytest.fixture
def tables(make_site, clock, tmp_path, webhook) -> Iterator[tuple[Any, Table, Table]]:
    site = make_site(**MEASURED)
    world = DemoWorld(clock.now().date())
    agents = []
    for station in TOKENS:
        cfg = validate({"station.id": station, "station.name": NAMES[station], "station.location": station,
                        "station.data_dir": str(tmp_path / station), "web.port": 0, "upstream.url": site.url,
                        "upstream.kind": "hub", "upstream.token": TOKENS[station], "hub.heartbeat_s": 0.5,
                        "hub.feed_wait_s": 5, "scale.enabled": False, "scanner.enabled": False,
                        "badge.enabled": False, "escalation.notify": [webhook.url], **MEASURED})
        agents.append(Agent(cfg, clock=clock, start_devices=False).start())
    try:
        yield site, Table(agents[0], world), Table(agents[1], world)
    finally:
        for agent in agents:
            agent.stop()


def hub_order(site, order_id: str) -> dict:
    return site.hub.order(order_id) or {}


def level_messages(webhook, level: int) -> list[dict]:
    return [m for m in webhook.received if f"(level {level})" in str(m.get("title"))]


def test_picked_at_a_is_picked_at_b_within_a_second_and_packed_at_b_escalates_nothing(tables, clock, webhook):
    site, a, b = tables
    assert a.ui.pda_login(BADGES["picker"], "4321")["status"] == "ok"
    assert a.ui.pick("SO-10012")["code"] == "order_picked"
    assert wait_until(lambda: b.status("SO-10012") == "picked", 1.0) < 1.0

    answers = b.ui.pack("SO-10012", BADGES["packer2"])
    assert [x["code"] for x in answers][-2:] == ["weight_ok", "packed"], answers
    wait_until(lambda: hub_order(site, "SO-10012").get("stage") == "packed", 5.0)
    wait_until(lambda: a.status("SO-10012") == "packed", 1.0)  # A's own "picked" no longer wins

    for _ in range(4):  # well past both levels
        clock.advance(30)
        site.hub.tick()
        a.station.tick()
        b.station.tick()
    time.sleep(0.3)
    assert webhook.received == []
    assert a.own_escalations() == [] and b.own_escalations() == []
    assert {e["state"] for e in hub_order(site, "SO-10012")["escalations"]} == {"void"}


def test_picked_and_left_with_the_picking_station_switched_off_escalates_once_from_the_site(tables, clock, webhook):
    site, a, b = tables
    assert a.ui.pda_login(BADGES["picker"], "4321")["status"] == "ok"
    assert a.ui.pick("SO-10012")["code"] == "order_picked"
    wait_until(lambda: hub_order(site, "SO-10012").get("stage") == "picked", 5.0)
    a.agent.stop()  # before its deadline

    clock.advance(31)
    site.hub.tick()
    b.station.tick()
    wait_until(lambda: level_messages(webhook, 1), 5.0)
    # the released priority reaches the other table's kiosk through the feed
    wait_until(lambda: any(o["order_id"] == "SO-10012" for o in b.station.state()["priority_orders"]), 1.0)
    assert b.ui.pda_login(BADGES["picker"], "4321")["status"] == "ok"  # ... and its PDA
    pda = b.ui.http.get(f"{b.agent.url}/api/v1/pda/orders", timeout=5).json()
    assert [o["order_id"] for o in pda["priority_orders"]] == ["SO-10012"]
    for _ in range(3):
        clock.advance(5)
        site.hub.tick()
        b.station.tick()
    time.sleep(0.3)
    assert len(level_messages(webhook, 1)) == 1
    assert "SO-10012/1" in str(level_messages(webhook, 1)[0])
    assert b.own_escalations() == []


def test_a_second_table_is_refused_naming_table_and_person_until_the_first_stops(tables):
    site, a, b = tables
    assert a.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert a.ui.act("scan", object_id="SO-10012")["code"] == "order_opened"
    assert hub_order(site, "SO-10012")["claim"]["station"] == "ST01"

    assert b.ui.act("badge", object_id=BADGES["packer2"])["code"] == "signed_in"
    refused = b.ui.act("scan", object_id="T-0012")
    assert refused["code"] == "claimed_elsewhere" and refused["colour"] == "red"
    assert refused["message"].startswith("SO-10012 is being packed at Packing table 1 by Li Wei.")
    assert "Packing table 1" in refused["message_zh"] and "Li Wei" in refused["message_zh"]
    assert b.station.pack.order is None

    assert a.ui.act("cancel", payload={"reason": "stopped"})["status"] != "error"
    wait_until(lambda: hub_order(site, "SO-10012")["claim"] is None, 2.0)
    assert b.ui.act("scan", object_id="T-0012")["code"] == "order_opened"
    assert hub_order(site, "SO-10012")["claim"]["station"] == "ST02"


def test_a_table_that_cannot_reach_the_hub_opens_the_order_and_claims_it_when_back(tables):
    site, a, _b = tables
    reachable = a.agent.site_client.http
    a.agent.site_client.http = DeadlineHTTP("http://127.0.0.1:9", deadline_s=1.0)
    assert a.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    started = time.monotonic()
    assert a.ui.act("scan", object_id="SO-10013")["code"] == "order_opened"
    assert time.monotonic() - started < 1.5
    assert hub_order(site, "SO-10013").get("claim") is None
    a.agent.site_client.http = reachable
    wait_until(lambda: (hub_order(site, "SO-10013").get("claim") or {}).get("station") == "ST01", 3.0)


def test_units_taken_at_one_table_count_against_the_lot_at_every_table(tables):
    site, a, b = tables
    assert a.ui.pda_login(BADGES["picker"], "4321")["status"] == "ok"
    assert a.ui.pick("SO-10001")["code"] == "order_picked"
    wait_until(lambda: hub_taken(site), 5.0)
    time.sleep(0.3)  # the last of the pick's confirmations
    taken = hub_taken(site)
    for (sku, lot), units in taken.items():
        stock = next(row["qty"] for row in b.agent.cache.lots_for_sku(sku) if row["lot"] == lot)
        remaining = max(0, stock - units)
        for table in (a, b):
            wait_until(lambda t=table, s=sku, n=lot, left=remaining:
                       next(x.qty for x in t.station.catalog.lots_for(s) if x.lot == n) == left, 1.0)


def hub_taken(site) -> dict:
    with site.hub.db.read() as conn:
        return hub_store.lots_taken(conn)


def test_picked_and_left_with_the_picking_station_killed_escalates_once_from_the_site(make_site, clock, tmp_path,
                                                                                       webhook):
    """The same, with the picking station a process of its own that is SIGKILLed before the deadline."""
    site = make_site(**MEASURED)
    world = DemoWorld(clock.now().date())
    port = free_tcp_port()
    config = tmp_path / "st01.toml"
    config.write_text("\n".join([
        "[station]", 'id = "ST01"', f'name = "{NAMES["ST01"]}"', 'location = "ST01"',
        f'data_dir = "{tmp_path / "ST01"}"', "[web]", f"port = {port}",
        "[upstream]", f'url = "{site.url}"', 'kind = "hub"', f'token = "{TOKENS["ST01"]}"',
        "[scale]", "enabled = false", "[scanner]", "enabled = false", "[badge]", "enabled = false", ""]))
    proc = subprocess.Popen([sys.executable, "-m", "packgate.station.runtime.cli", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ui = Terminal(f"http://127.0.0.1:{port}", world)
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 30.0)
        assert ui.pda_login(BADGES["picker"], "4321")["status"] == "ok"
        assert ui.pick("SO-10012")["code"] == "order_picked"
        wait_until(lambda: hub_order(site, "SO-10012").get("stage") == "picked", 10.0)
        proc.send_signal(signal.SIGKILL)  # before its deadline
        assert proc.wait(timeout=10) == -signal.SIGKILL
        for _ in range(3):
            clock.advance(31)
            site.hub.tick()
        wait_until(lambda: level_messages(webhook, 1), 5.0)
        time.sleep(0.3)
        assert len(level_messages(webhook, 1)) == 1
        assert "SO-10012/1" in str(level_messages(webhook, 1)[0])
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True


def test_a_station_whose_clock_is_off_is_warned_on_its_kiosk_and_named_by_the_hub(make_site, clock, tmp_path, browser):
    site = make_site()
    wrong = OffsetClock()
    wrong.advance(clock.offset.total_seconds() + 605)  # this PC's clock: 10 min 5 s ahead of the hub's
    cfg = validate({"station.id": "ST01", "station.data_dir": str(tmp_path / "ST01"), "web.port": 0,
                    "upstream.url": site.url, "upstream.kind": "hub", "upstream.token": TOKENS["ST01"],
                    "hub.heartbeat_s": 0.3, "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False})
    agent = Agent(cfg, clock=wrong, start_devices=False).start()
    try:
        wait_until(lambda: (agent.station.state().get("site_clock") or {}).get("warning"), 10.0)
        shown = agent.station.state()["site_clock"]
        assert 600 < shown["offset_s"] < 610
        health = requests.get(f"{agent.url}/healthz", timeout=5).json()
        assert any("clock differs from the site hub's by +60" in p for p in health["problems"])
        hub_health = requests.get(f"{site.url}/healthz", timeout=5).json()
        assert any(p.startswith("station ST01's clock differs from the hub's by +10 min") for p in hub_health["problems"])
        page = browser.new_page()
        try:
            page.goto(agent.url + "/")
            expect(page.locator("#clock-alert")).to_contain_text("This PC's clock is off the site's time by +10 min")
            expect(page.locator("#clock-alert")).to_contain_text("ask IT to set its time (NTP)")
            page.click('button[data-i18n="lang"]')
            expect(page.locator("#clock-alert")).to_contain_text("本机时钟与现场时间相差 +10 分钟")
        finally:
            page.close()
        wrong.advance(-605)  # NTP fixed it
        wait_until(lambda: not (agent.station.state().get("site_clock") or {}).get("warning"), 10.0)
        assert not any("clock" in p for p in requests.get(f"{agent.url}/healthz", timeout=5).json()["problems"])
    finally:
        agent.stop()
