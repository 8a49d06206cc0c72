"""Site policies across a site, with real processes on 127.0.0.1: two station agents, a real hub (SQLite and
PostgreSQL) relaying to the reference WMS. An order opened under review at a table is approved from the hub's
dashboard by a supervisor signed in there with badge + PIN (its label then prints at the table; the WMS gets the
decision once); a carrier switched at one table is followed by the dock of the other; a threshold crossed at a table
is told to the shift lead on the hub's channels, once."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from hubkit import dashboard_sign_in
from site_tables import BADGES, PINS, Table, site_tables, wait_until, wms_confirmations

from packgate.station.demo.rig import DemoWorld
from packgate.station.demo.selftest import OffsetClock


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


def admin(wms: str, path: str, body: Any) -> None:
    resp = requests.post(f"{wms}{path}", json=body, timeout=5)
    assert resp.status_code == 200, resp.text


@pytest.fixture
def policed(make_site, clock, tmp_path, webhook, wms) -> Iterator[tuple[Any, Table, Table]]:
    world = DemoWorld(clock.now().date())
    admin(wms, "/v1/admin/orders", {"items": [{**world.orders["SO-10009"], "value": "1500.00"}]})
    admin(wms, "/v1/admin/carriers/SF", {"suspended_regions": ["*"], "backup": "YTO", "reason": "typhoon"})
    sku_lots = [r for r in world.reference["lots"] if r["sku"] == "SKU-025"]
    admin(wms, "/v1/admin/skus/SKU-025/policy", {"safety_stock": sum(r["qty"] for r in sku_lots) - 1})
    empty = [{**r, "qty": 0} for r in world.reference["lots"] if r["sku"] == "SKU-003"]
    admin(wms, "/v1/admin/lots", {"items": empty})  # nothing left of SKU-003: a pick of it is short
    site = make_site()  # its first reference pull carries the policies
    with site_tables(site, clock, tmp_path, webhook.url, **{"review.order_value_over": 1000.0}) as (one, two):
        yield site, one, two


def csrf_of(http: requests.Session, url: str) -> str:
    return http.get(f"{url}/", timeout=5).text.split('name="csrf" value="')[1].split('"')[0]


def test_a_review_approved_on_the_dashboard_prints_at_the_table_and_the_dock_follows_the_switch(policed, wms,
                                                                                                webhook):
    site, one, two = policed
    order = one.world.orders["SO-10009"]
    assert one.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert one.ui.act("scan", object_id="SO-10009")["code"] == "review_required"
    for line in order["lines"]:
        for _ in range(line["qty"]):
            code = one.world.item_code(line["sku"], one.world.good_lot_index(line["sku"]))
            assert one.ui.act("scan", object_id=code)["code"] == "item_accepted"
    held = one.ui.act("weigh", payload={"grams": str(one.world.expected_g("SO-10009")), "stable": True})
    assert held["code"] == "review_pending" and one.printer.printed == []
    def under_review() -> bool:
        with site.hub.db.read() as conn:
            return conn.one("SELECT 1 AS x FROM hub_reviews WHERE order_id = 'SO-10009'") is not None

    wait_until(under_review, 5.0)

    http = requests.Session()
    assert dashboard_sign_in(http, site.url, BADGES["supervisor"], PINS["supervisor"]).status_code == 303
    page = http.get(f"{site.url}/", timeout=5).text
    assert 'data-order="SO-10009" data-decision=""' in page and "order_value" in page
    done = http.post(f"{site.url}/reviews/decide", data={"csrf": csrf_of(http, site.url), "order_id": "SO-10009",
                                                          "decision": "approve", "reason": "known customer"},
                     allow_redirects=False, timeout=5)
    assert done.status_code == 303
    again = http.post(f"{site.url}/reviews/decide", data={"csrf": csrf_of(http, site.url), "order_id": "SO-10009",
                                                           "decision": "refuse", "reason": "x"},
                      allow_redirects=False, timeout=5)
    assert again.status_code == 409  # decided once

    # the carrier: SF is suspended everywhere; the packer takes the backup, the label prints for it
    wait_until(lambda: (one.station.state()["verdict"] or {}).get("code") in ("carrier_suspended", "label_printed"),
               5.0)
    assert one.station.state()["verdict"]["code"] == "carrier_suspended"
    assert one.ui.act("switch_carrier")["code"] in ("carrier_switched", "label_printed")
    wait_until(lambda: len(one.printer.printed) == 1, 5.0)
    waybill = str((one.station.labels.view() or {}).get("waybill"))
    assert one.ui.act("scan", object_id=waybill)["code"] == "packed"
    wait_until(lambda: one.station.outbox.status()["depth"] == 0, 10.0)

    dock = two.dock()  # the other table's dock door
    sf, yto = dock.open("SF"), dock.open("YTO", "V-2")
    refused = dock.scan(sf, waybill)
    assert refused["code"] == "dock_wrong_carrier" and "YTO" in refused["message"], refused
    assert dock.scan(yto, waybill)["code"] == "dock_parcel_added"

    site.relay()
    reviews = [c for c in wms_confirmations(wms, "SO-10009") if c["action"] == "review"]
    assert [r["payload"]["decision"] for r in reviews] == ["required", "approved"]
    assert reviews[1]["operator"] == "E005" and reviews[1]["payload"]["via"] == "dashboard"
    switches = [c for c in wms_confirmations(wms, "SO-10009") if c["action"] == "carrier_switch"]
    assert len(switches) == 1 and switches[0]["payload"]["to"] == "YTO"

    # SKU-025's safety stock was crossed by the one unit counted: the hub told the shift lead, once
    site.hub.tick()
    site.hub.tick()
    by_hub = [n for n in webhook.received if "SKU-025" in str(n) and "left at ST01" in str(n.get("message"))]
    assert len(by_hub) == 1 and "Stock low" in by_hub[0]["title"] and "库存" in by_hub[0]["title"]
    with site.hub.db.read() as conn:
        assert [a["notified_at"] is not None for a in conn.execute("SELECT notified_at FROM hub_stock_alerts")] == [True]


def test_a_carrier_suspended_from_the_dashboard_reaches_the_tables(policed):
    site, one, two = policed
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, BADGES["supervisor"], PINS["supervisor"]).status_code == 303
    bad = http.post(f"{site.url}/carriers", data={"csrf": csrf_of(http, site.url), "carrier": "YTO",
                                                  "daily_cap": "-3"}, allow_redirects=False, timeout=5)
    assert bad.status_code == 400 and "daily cap" in bad.json()["error"]
    done = http.post(f"{site.url}/carriers", data={"csrf": csrf_of(http, site.url), "carrier": "YTO",
                                                   "regions": "*", "backup": "JD", "reason": "peak day"},
                     allow_redirects=False, timeout=5)
    assert done.status_code == 303
    wait_until(lambda: "YTO" in {r["carrier"] for r in two.station.carriers.listing()["rules"]
                                 if r["suspended_regions"]}, 5.0)
    order = two.world.orders["SO-10016"]  # booked with YTO
    assert two.ui.act("badge", object_id=BADGES["packer2"])["code"] == "signed_in"
    assert two.ui.act("scan", object_id="SO-10016")["code"] == "order_opened"
    for line in order["lines"]:
        for _ in range(line["qty"]):
            code = two.world.item_code(line["sku"], two.world.good_lot_index(line["sku"]))
            assert two.ui.act("scan", object_id=code)["code"] == "item_accepted"
    refused = two.ui.act("weigh", payload={"grams": str(two.world.expected_g("SO-10016")), "stable": True})
    assert refused["code"] == "carrier_suspended" and "JD" in refused["message"] and "peak day" in refused["message"]
    with site.hub.db.read() as conn:
        assert [a["what"] for a in conn.execute("SELECT what FROM hub_audit WHERE what = 'carrier_rule'")] == \
            ["carrier_rule"]


def test_a_short_pick_at_a_table_is_told_on_the_hubs_channels(policed, webhook):
    site, one, _two = policed
    short = one.station.handle({"terminal": "pda", "operator": "E004", "device": "pda-1", "action": "pick",
                                "object_type": "order", "object_id": "SO-10020"})
    assert short["code"] == "stock_short", short
    wait_until(lambda: one.station.outbox.status()["depth"] == 0, 10.0)
    site.hub.tick()
    by_hub = [n for n in webhook.received if "Short pick: SKU-003" in str(n.get("title")) and "(ST01)" in
              str(n.get("message"))]
    assert len(by_hub) == 1 and "拣货缺货" in by_hub[0]["title"]
    site.hub.tick()
    assert len([n for n in webhook.received if "(ST01)" in str(n.get("message"))]) == 1  # once
