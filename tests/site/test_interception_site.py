"""Interception across a site (订单拦截), with real processes on 127.0.0.1: the reference WMS, the hub (its fast pull
of the WMS's order changes, its feed and its relay running in real time) and two station agents (devices off) driven
through their HTTP API as the kiosk and the PDA drive them. The WMS holds, cancels or changes an order at each moment
of packing; both tables know within 2 s, the next step is refused INTERCEPTED with nothing recorded upstream but the
``intercept``; a held order released packs; a Stop of an order nobody picked escalates nothing."""
from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
from site_tables import wait_until

from packgate.station.demo.floor import Terminal
from packgate.station.demo.rig import DemoWorld
from packgate.station.demo.selftest import OffsetClock
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.client import UpstreamClient
from packgate.sync.hub import store as hub_store
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES

TOKENS = {"ST01": "token-of-station-01-abcdef", "ST02": "token-of-station-02-abcdef"}
NAMES = {"ST01": "Packing table 1", "ST02": "Packing table 2"}
MEASURED = {"escalation.first_after_min": 0.5, "escalation.second_after_min": 1.0}
WITHIN_S = 2.0  # the brief: a WMS decision reaches every table that may act on it within 2 s


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture(params=["sqlite"])
def hub_db(request: pytest.FixtureRequest, tmp_path) -> str:
    """The floor runs on a SQLite hub here (test_hub_interception covers both engines)."""
    return str(tmp_path / "hub.db")



class Table:
    def __init__(self, agent: Agent, world: DemoWorld):
        self.agent, self.station, self.world = agent, agent.station, world
        self.ui = Terminal(agent.url, world)

    def knows(self, order_id: str, status: str) -> bool:
        word = self.station.interception.word(order_id)
        return word is not None and word.status == status

    def shown(self) -> dict:
        return self.ui.http.get(f"{self.agent.url}/api/v1/state", timeout=5).json()

    def item(self, sku: str) -> str:
        return self.world.item_code(sku, self.world.good_lot_index(sku))

    def scan(self, code: str) -> dict:
        return self.ui.act("scan", object_id=code)

    def weigh(self, grams: Any) -> dict:
        return self.ui.act("weigh", payload={"grams": str(grams), "stable": True})


class Floor:
    def __init__(self, site: Any, a: Table, b: Table, wms_url: str):
        self.site, self.a, self.b = site, a, b
        self.wms = UpstreamClient(wms_url, deadline_s=5)

    def delivered(self) -> bool:
        """Every confirmation of both tables is at the WMS: the tables' outboxes are read first (empty, the hub holds
        all they sent), then the hub's relay (read the other way round, a row could pass from one to the other between
        the two reads and be in neither)."""
        if any(t.station.outbox.status()["depth"] for t in (self.a, self.b)):
            return False
        with self.site.hub.db.read() as conn:
            return hub_store.relay_status(conn, self.site.hub.clock.now())["depth"] == 0

    def actions(self, order_id: str) -> list[str]:
        wait_until(self.delivered, 10.0)
        return [c["action"] for c in self.wms.order_confirmations(order_id)]

    def wms_status(self, order_id: str) -> str:
        return next(o for o in self.wms.get_order_changes(since="0")["orders"] if o["order_id"] == order_id)["status"]

    def decide(self, order_id: str, decision: str, **body: Any) -> float:
        """The WMS decides; returns the moment its admin call returned (monotonic)."""
        self.wms.decide(order_id, decision, body)
        return time.monotonic()


@pytest.fixture
def floor(make_site, clock, tmp_path, webhook, wms) -> Iterator[Floor]:
    site = make_site(**MEASURED)
    site.hub.start_order_pull()
    site.hub.relay.start()
    world = DemoWorld(clock.now().date())
    agents = []
    try:
        for station in TOKENS:
            cfg = validate({"station.id": station, "station.name": NAMES[station], "station.location": station,
                            "station.data_dir": str(tmp_path / station), "web.port": 0, "upstream.url": site.url,
                            "upstream.kind": "hub", "upstream.token": TOKENS[station], "hub.heartbeat_s": 0.5,
                            "hub.feed_wait_s": 5, "scale.enabled": False, "scanner.enabled": False,
                            "badge.enabled": False, "escalation.notify": [webhook.url], **MEASURED})
            agents.append(Agent(cfg, clock=clock, start_devices=False).start())
        tables = [Table(agent, world) for agent in agents]
        yield Floor(site, tables[0], tables[1], wms)
    finally:
        for agent in agents:
            agent.stop()
        site.hub.relay.stop()


def open_order(table: Table, order_id: str, items: int) -> None:
    assert table.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert table.scan(order_id)["code"] == "order_opened"
    skus = [line["sku"] for line in table.world.orders[order_id]["lines"] for _ in range(line["qty"])]
    for sku in skus[:items]:
        assert table.scan(table.item(sku))["code"] == "item_accepted"


@pytest.mark.parametrize("moment", ["after_open", "after_some_items", "after_weighing"])
def test_a_cancel_reaches_both_tables_within_2_s_and_the_next_step_records_only_the_intercept(floor, moment):
    a, b = floor.a, floor.b
    open_order(a, "SO-10009", {"after_open": 0, "after_some_items": 1, "after_weighing": 2}[moment])
    if moment == "after_weighing":
        assert a.weigh(a.world.expected_g("SO-10009"))["code"] == "weight_ok"
    before = floor.actions("SO-10009")
    decided = floor.decide("SO-10009", "cancel", reason="customer refund")
    wait_until(lambda: (a.shown()["session"]["interception"] or {}).get("status") == "cancelled", WITHIN_S)
    assert time.monotonic() - decided < WITHIN_S
    wait_until(lambda: b.knows("SO-10009", "cancelled"), WITHIN_S)
    assert a.shown()["verdict"]["code"] == "intercepted"  # the banner, at once

    step = {"after_open": lambda: a.scan(a.item("SKU-007")), "after_some_items": lambda: a.scan(a.item("SKU-025")),
            "after_weighing": lambda: a.ui.act("pack")}[moment]
    refused = step()
    assert refused["code"] == "intercepted" and refused["status"] == "intercepted"
    assert refused["message"].startswith("Order SO-10009 was cancelled by the WMS at ")
    assert "(customer refund). Put the parcel in the interception bin." in refused["message"]
    assert "被WMS取消（customer refund）。请把包裹放入拦截区。" in refused["message_zh"]
    assert b.ui.act("badge", object_id=BADGES["packer2"])["code"] == "signed_in"
    assert b.scan(b.world.orders["SO-10009"]["tote"])["code"] == "intercepted"  # the tote at the other table
    # the relay's queue can read empty while a batch is on its way to the WMS: wait for both, then check exactly
    wait_until(lambda: floor.actions("SO-10009").count("intercept") >= 2, 10.0)
    after = floor.actions("SO-10009")
    # exactly the two intercepts; any other action reaching the WMS late must be one made before the cancel
    late = [x for x in after if x != "intercept"][len(before):]
    assert after.count("intercept") == 2 and [x for x in after if x != "intercept"][:len(before)] == before
    assert set(late) <= {"scan", "verify", "open", "weigh"}, late
    stopped = [(c["station"], c["payload"]["step"]) for c in floor.wms.order_confirmations("SO-10009")
               if c["action"] == "intercept"]
    assert sorted(stopped) == [("ST01", {"after_open": "scan_item", "after_some_items": "scan_item",
                                         "after_weighing": "pack"}[moment]), ("ST02", "open_order")]
    assert floor.site.hub.order("SO-10009")["wms"]["status"] == "cancelled"
    wait_until(lambda: floor.site.hub.order("SO-10009")["claim"] is None, 3.0)  # the table let it go


def test_a_parcel_packed_then_cancelled_is_refused_at_the_dock_scan(floor):
    a = floor.a
    open_order(a, "SO-10009", 2)
    assert a.weigh(a.world.expected_g("SO-10009"))["code"] == "weight_ok"
    assert a.ui.act("pack")["code"] == "packed"
    before = floor.actions("SO-10009")
    floor.decide("SO-10009", "cancel", reason="refund after packing")
    wait_until(lambda: a.knows("SO-10009", "cancelled"), WITHIN_S)
    assert a.ui.pda_login(BADGES["picker"], "4321")["status"] == "ok"
    batch = a.ui.api("/api/v1/dock/batches", {"carrier": "SF", "vehicle": "V1"})["batch"]["batch_id"]
    refused = a.ui.api(f"/api/v1/dock/batches/{batch}/scan", {"code": "SO-10009"})
    assert refused["code"] == "intercepted" and "refund after packing" in refused["message"]
    assert floor.actions("SO-10009")[len(before):] == ["intercept"]


def test_a_held_order_is_refused_until_released_then_packing_goes_on(floor):
    a = floor.a
    open_order(a, "SO-10009", 1)
    floor.decide("SO-10009", "hold", reason="address check")
    wait_until(lambda: a.knows("SO-10009", "held"), WITHIN_S)
    refused = a.scan(a.item("SKU-025"))
    assert refused["code"] == "intercepted" and "held" in refused["message"] and "address check" in refused["message"]
    assert a.shown()["session"]["state"] == "scanning"  # the parcel waits as it is
    decided = floor.decide("SO-10009", "release")
    wait_until(lambda: a.shown()["session"]["interception"] is None, WITHIN_S)
    assert time.monotonic() - decided < WITHIN_S
    assert a.scan(a.item("SKU-025"))["code"] == "item_accepted"
    assert a.weigh(a.world.expected_g("SO-10009"))["code"] == "weight_ok"
    assert a.ui.act("pack")["code"] == "packed"
    actions = floor.actions("SO-10009")
    assert actions.count("intercept") == 1 and actions[-1] == "pack"
    assert floor.wms_status("SO-10009") == "packed"


def test_a_change_of_lines_mid_pack_says_what_to_take_out_and_add_and_the_new_parcel_packs(floor):
    a = floor.a
    open_order(a, "SO-10011", 2)  # two ceramic mugs
    floor.decide("SO-10011", "change", lines=[{"sku": "SKU-012", "qty": 1}, {"sku": "SKU-007", "qty": 1}],
                 reason="customer edit")
    wait_until(lambda: (a.shown()["session"]["interception"] or {}).get("revision") == 2, WITHIN_S)
    changed = a.ui.act("weigh", payload={"grams": "1000", "stable": True})
    assert changed["code"] == "order_changed"
    assert "take out 1 × SKU-012; add 1 × SKU-007" in changed["message"]
    assert a.scan(a.item("SKU-007"))["code"] == "item_accepted"
    expected = a.shown()["session"]["expected"]["expected_g"]
    assert a.weigh(expected)["code"] == "weight_ok"
    assert a.ui.act("pack")["code"] == "packed"
    assert floor.actions("SO-10011")[-1] == "pack"
    confirmations = floor.wms.order_confirmations("SO-10011")
    pack = next(c for c in confirmations if c["action"] == "pack")
    assert sorted(u["sku"] for u in pack["payload"]["units"]) == ["SKU-007", "SKU-012"]
    intercept = next(c for c in confirmations if c["action"] == "intercept")
    assert intercept["payload"]["status"] == "changed" and intercept["payload"]["take_out"] == {"SKU-012": 1}


def test_a_stop_of_an_order_nobody_picked_returns_it_to_open_and_escalates_nothing(floor, clock, webhook):
    a, b = floor.a, floor.b
    open_order(a, "SO-10013", 0)
    assert a.ui.act("cancel", payload={"reason": "wrong tote"})["code"] == "cancelled"
    wait_until(lambda: floor.site.hub.order("SO-10013")["stage"] == "open", 5.0)
    wait_until(lambda: (b.station.catalog.local_order("SO-10013") or {}).get("status") == "open", 2.0)
    for _ in range(4):  # well past both levels
        clock.advance(30)
        floor.site.hub.tick()
        a.station.tick()
        b.station.tick()
    time.sleep(0.3)
    assert webhook.received == []
    assert floor.site.hub.order("SO-10013")["escalations"] == []
    assert not any(o["order_id"] == "SO-10013" for o in b.station.state()["priority_orders"])
    assert a.station.catalog.local_order("SO-10013")["status"] == "open"
