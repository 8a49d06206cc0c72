"""The supervisor's side of a site, at the stations: two real station agents, a real hub and the reference WMS.
Every station's supervisor page shows the site's escalations and acknowledges them through the hub (audited once,
one escalate and one escalation_ack at the WMS); a release from the dashboard reaches the holding table's kiosk
(who and why) by the feed, or by the heartbeat when the feed is not heard, and the claim does not come back; every
PDA is a device of its own and its refused scans are kept for review."""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from site_tables import BADGES, PINS, Table, site_tables, wait_until, wms_confirmations

from packgate.station import store
from packgate.station.demo.floor import Terminal
from packgate.station.demo.selftest import OffsetClock
from packgate.sync.common.http import DeadlineHTTP
from packgate.sync.hub import store as hub_store

MEASURED = {"escalation.first_after_min": 0.5, "escalation.second_after_min": 1.0}


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def tables(make_site, clock, tmp_path, webhook) -> Iterator[tuple[Any, Table, Table]]:
    site = make_site(**MEASURED)
    with site_tables(site, clock, tmp_path, webhook.url, **MEASURED) as (one, two):
        yield site, one, two


def supervisor(table: Table) -> Terminal:
    ui = Terminal(table.agent.url, table.world)
    signed = ui.api("/api/v1/pda/login", {"badge": BADGES["supervisor"], "pin": PINS["supervisor"],
                                          "page": "supervisor"})
    assert signed["status"] == "ok", signed
    return ui


def overview(ui: Terminal) -> dict:
    return dict(ui.http.get(f"{ui.base}/api/v1/supervisor/overview", timeout=5).json())


def hub_audit(site, what: str) -> list[dict]:
    with site.hub.db.read() as conn:
        return [a for a in hub_store.audit_log(conn) if a["what"] == what]


def test_the_sites_escalation_shows_at_every_station_and_is_acknowledged_there_once(tables, clock, wms):
    site, one, two = tables
    assert one.ui.pda_login(BADGES["picker"], PINS["picker"])["status"] == "ok"
    assert one.ui.pick("SO-10012")["code"] == "order_picked"
    wait_until(lambda: (site.hub.order("SO-10012") or {}).get("stage") == "picked", 5.0)
    clock.advance(31)
    assert site.hub.tick()["escalations"] == ["SO-10012/1"]

    at_two, at_one = supervisor(two), supervisor(one)
    shown = overview(at_two)
    assert shown["escalations_from"] == "site"
    assert [(e["id"], e["order_id"], e["level"]) for e in shown["escalations"]] == [("SO-10012~1", "SO-10012", 1)]
    assert shown["escalations"][0]["table"] == "Packing table 1" and shown["escalations"][0]["deadline"]
    counts = at_two.http.get(f"{at_two.base}/api/v1/supervisor/counts", timeout=5).json()
    assert counts["open_escalations"] == 1

    acked = at_two.api("/api/v1/escalations/SO-10012~1/ack", {})
    assert acked["code"] == "acknowledged" and acked["colour"] == "green", acked
    again = at_one.api("/api/v1/escalations/SO-10012~1/ack", {})
    assert again["code"] == "already_acknowledged" and "Priya Nair" in again["message"]
    assert overview(at_one)["escalations"] == []  # gone at every station
    assert [(a["who"], a["subject"]) for a in hub_audit(site, "acknowledge_escalation")] == [("E005", "SO-10012/1")]
    with two.station.parts.lock:
        assert store.escalations(two.station.parts.conn, open_only=False) == []  # the site's, not the table's
    for _ in range(2):
        site.hub.tick()
        site.relay()
    actions = [(c["action"], c["station"]) for c in wms_confirmations(wms, "SO-10012")
               if c["action"] in ("escalate", "escalation_ack")]
    assert actions == [("escalate", "HUB"), ("escalation_ack", "HUB")]

    two.agent.site_client.http = DeadlineHTTP("http://127.0.0.1:9", deadline_s=1.0)  # the hub is gone for table 2
    refused = at_two.api("/api/v1/escalations/SO-10012~2/ack", {})
    assert refused["code"] == "hub_unreachable" and refused["colour"] == "red", refused
    assert overview(at_two)["escalations_from"] == "site_unreachable"


def test_a_release_with_a_reason_reaches_the_kiosk_and_the_claim_does_not_come_back(tables):
    site, one, two = tables
    assert one.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert one.ui.act("scan", object_id="T-0013")["code"] == "order_opened"
    sku = one.world.orders["SO-10013"]["lines"][0]["sku"]
    assert one.ui.act("scan", object_id=one.world.item_code(sku, one.world.good_lot_index(sku)))["status"] == "ok"
    # the claim reaches the hub with the opening, or with the next heartbeat if the hub was slow to answer (the table
    # works offline meanwhile)
    wait_until(lambda: ((site.hub.order("SO-10013") or {}).get("claim") or {}).get("station") == "ST01", 10.0)

    site.hub.release("SO-10013", supervisor="E005", reason="packer sent home sick")
    took = wait_until(lambda: (one.station.verdict or {}).get("code") == "claim_released", 2.0)
    shown = one.station.verdict or {}
    assert took < 1.0 and shown["colour"] == "red"
    assert shown["message"].startswith("Priya Nair released order SO-10013 from this table: packer sent home sick.")
    assert "Priya Nair" in shown["message_zh"] and "packer sent home sick" in shown["message_zh"]
    assert one.station.pack.order is None and str(one.station.pack.state) == "signed_in"
    assert one.station.state()["verdict"]["code"] == "claim_released"  # what the kiosk page shows
    with one.station.parts.lock:
        assert store.order_row(one.station.parts.conn, "SO-10013")["status"] == "open"
        audit = [a for a in store.recent_audit(one.station.parts.conn) if a["action"] == "claim_released"]
    assert len(audit) == 1 and audit[0]["who"] == "E005" and audit[0]["reason"] == "packer sent home sick"
    time.sleep(1.5)  # three heartbeats
    assert site.hub.order("SO-10013")["claim"] is None
    assert two.ui.act("badge", object_id=BADGES["packer2"])["code"] == "signed_in"
    assert two.ui.act("scan", object_id="T-0013")["code"] == "order_opened"


def test_a_table_that_does_not_hear_the_feed_drops_the_released_order_at_its_next_heartbeat(tables):
    site, one, _two = tables
    one.agent.feed.stop(timeout=6.0)
    assert one.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert one.ui.act("scan", object_id="T-0013")["code"] == "order_opened"
    site.hub.release("SO-10013", supervisor="E005", reason="moved to table 2")
    wait_until(lambda: (one.station.verdict or {}).get("code") == "claim_released", 3.0)
    assert "moved to table 2" in (one.station.verdict or {})["message"]
    time.sleep(1.5)
    assert site.hub.order("SO-10013")["claim"] is None


def test_every_pda_is_its_own_device_and_its_refused_scans_are_kept(tables):
    site, one, _two = tables
    pdas = {}
    for name in ("pda-aa11", "pda-bb22"):
        ui = Terminal(one.agent.url, one.world)
        assert ui.api("/api/v1/pda/login", {"badge": BADGES["picker"], "pin": PINS["picker"], "device": name})[
            "status"] == "ok"
        pdas[name] = ui
    assert pdas["pda-aa11"].pick("SO-10012", device="pda-aa11")["code"] == "order_picked"
    started = pdas["pda-bb22"].act("pick", object_type="order", object_id="SO-10016", terminal="pda", device="pda-bb22")
    assert started["code"] == "pick_started", started
    wrong = pdas["pda-bb22"].act("scan", object_id="Z-99-99", terminal="pda", device="pda-bb22")
    assert wrong["status"] == "error" and wrong["code"] == "wrong_bin", wrong

    def devices(order_id: str) -> set[str]:
        return {c["device"] for c in hub_confirmations(site, order_id)}

    wait_until(lambda: devices("SO-10012") == {"ST01-pda-aa11"}, 5.0)
    with one.station.parts.lock:
        kept = store.recent_rejected(one.station.parts.conn)
    assert [(r["source"], r["raw"], r["reason"]) for r in kept] == [("ST01-pda-bb22", "Z-99-99", "wrong_bin")]
    signed = [c for c in hub_employee_confirmations(site) if c["action"] == "badge"]
    assert {c["device"] for c in signed} >= {"ST01-pda-aa11", "ST01-pda-bb22"}
    listed = supervisor(one).http.get(f"{one.agent.url}/api/v1/supervisor/rejected-input", timeout=5).json()["items"]
    assert listed[0]["source"] == "ST01-pda-bb22" and listed[0]["reason"] == "wrong_bin"


def hub_confirmations(site, order_id: str) -> list[dict]:
    with site.hub.db.read() as conn:
        return hub_store.order_confirmations(conn, order_id)


def hub_employee_confirmations(site) -> list[dict]:
    wait_until(lambda: _employee_rows(site), 5.0)
    return _employee_rows(site)


def _employee_rows(site) -> list[dict]:
    with site.hub.db.read() as conn:
        rows = conn.execute("SELECT body FROM hub_confirmations WHERE object_type = 'employee'")
    return [json.loads(r["body"]) for r in rows]


def test_a_pack_the_wms_refused_after_the_hub_took_it_is_a_conflict_on_every_stations_page(tables, wms):
    """The hub took a pack, then the WMS refused it (order_cancelled: it had cancelled the order first): the site's
    conflict is listed on every station's supervisor page and resolved there once, through the hub."""
    from packgate.sync.client import UpstreamClient

    site, one, two = tables
    packer = site.station("ST02")  # the pack reached the hub before the hub heard of the cancel
    pack = packer.confirm("pack", "order", "SO-10012", {"units": []})
    assert packer.push() == 1
    client = UpstreamClient(wms, deadline_s=5)
    client.decide("SO-10012", "cancel", {"reason": "customer refund"})
    client.close()
    site.hub.pull_orders()
    site.relay()

    at_one, at_two = supervisor(one), supervisor(two)
    wait_until(lambda: overview(at_one)["conflicts"], 3.0)
    (shown,) = overview(at_one)["conflicts"]
    assert shown["id"].startswith("hub~") and shown["object_id"] == "SO-10012" and shown["action"] == "pack"
    assert shown["table"] == "Packing table 2" and shown["site"] is True and shown["confirmation"] == pack
    assert "order_cancelled" in (shown["dead_reason"] or "") or "cancel" in (shown["dead_reason"] or "")
    assert [c["id"] for c in overview(at_two)["conflicts"]] == [shown["id"]]  # every station's page

    bad = at_one.api(f"/api/v1/supervisor/conflicts/{shown['id']}/resolve", {"note": "  "})
    assert bad["code"] == "conflict_note_missing"
    done = at_one.api(f"/api/v1/supervisor/conflicts/{shown['id']}/resolve",
                      {"note": "parcel taken out of the dock lane into the interception bin"})
    assert done["code"] == "conflict_resolved" and "SO-10012" in done["message"] and "pack" in done["message"], done
    again = at_two.api(f"/api/v1/supervisor/conflicts/{shown['id']}/resolve", {"note": "also done"})
    assert again["code"] == "conflict_already_resolved" and "Priya Nair" in again["message"], again
    wait_until(lambda: not overview(at_two)["conflicts"], 3.0)
    assert overview(at_one)["conflicts"] == []
    (audited,) = hub_audit(site, "resolve_conflict")
    assert audited["who"] == "E005" and audited["subject"] == "SO-10012"
    assert "interception bin" in json.dumps(audited["after"], ensure_ascii=False)
