"""The hub's side of interception (订单拦截) and of a Stop, on SQLite and PostgreSQL: the WMS's decisions pulled fast
onto the feed once each, kept beside the floor stage; a pack or hand-over of a cancelled order refused at ingest (or
a conflict when the WMS refused it first); a Stop returns the order to the stage it had and schedules nothing."""
from __future__ import annotations

from packgate.sync.client import UpstreamClient
from packgate.sync.hub import store
from packgate.sync.hub.dashboard import overview
from packgate.sync.hub.hub import Hub


def wms(site) -> UpstreamClient:
    assert site.hub.client is not None
    return UpstreamClient(site.hub.config["site.upstream_url"], deadline_s=5)


def events(site, kind: str = "order_status") -> list[dict]:
    with site.hub.db.read() as conn:
        return [e for e in store.feed_since(conn, 0, 5000) if e["kind"] == kind]


def test_each_decision_of_the_wms_reaches_the_feed_once_beside_the_floor_stage(site):
    client = wms(site)
    station = site.station("ST01")
    station.confirm("scan", "order", "SO-10008")
    assert station.push() == 1
    assert site.hub.pull_orders()["decisions"] == 0
    client.decide("SO-10008", "hold", {"reason": "address check"})
    assert site.hub.pull_orders()["decisions"] == 1
    assert site.hub.pull_orders()["decisions"] == 0  # pulled again: nothing new, nothing published twice
    client.decide("SO-10008", "release", {})
    site.hub.pull_orders()
    client.decide("SO-10008", "change", {"lines": [{"sku": "SKU-012", "qty": 1}], "reason": "customer edit"})
    client.decide("SO-10008", "cancel", {"reason": "customer refund"})
    site.hub.pull_orders()  # a change and a cancel between two pulls: the WMS's last word is the one that counts
    got = [(e["data"]["change"], e["data"]["status"], e["data"]["reason"], e["data"]["revision"]) for e in events(site)]
    assert got == [("held", "held", "address check", 1), ("released", "open", None, 1),
                   ("cancelled", "cancelled", "customer refund", 2)]
    order = site.hub.order("SO-10008")
    assert order["stage"] == "packing" and order["wms"]["status"] == "cancelled"
    assert order["wms"]["reason"] == "customer refund" and order["wms"]["revision"] == 2
    with site.hub.db.read() as conn:
        assert [o["order_id"] for o in store.intercepted_orders(conn)] == ["SO-10008"]
        assert store.ref_get(conn, "orders", "SO-10008")["status"] == "cancelled"  # the stations' reference too
    assert [o["order_id"] for o in overview(site.hub)["intercepted"]] == ["SO-10008"]


def test_a_change_alone_is_published_with_the_new_lines(site):
    wms(site).decide("SO-10009", "change", {"lines": [{"sku": "SKU-007", "qty": 2}], "carrier": "EMS"})
    site.hub.pull_orders()
    (event,) = events(site)
    assert event["data"]["change"] == "changed" and event["data"]["lines"] == [{"sku": "SKU-007", "qty": 2}]
    assert event["data"]["carrier"] == "EMS" and event["data"]["revision"] == 2


def test_the_reference_refresh_brings_a_decision_the_fast_pull_missed_and_a_restart_repeats_none(site, clock):
    wms(site).decide("SO-10010", "cancel", {"reason": "refund"})
    clock.advance(3600)
    site.hub.tick()  # the slow full refresh comes first (the hub was down while the WMS cancelled)
    assert [e["data"]["change"] for e in events(site)] == ["cancelled"]
    again = Hub(site.hub.config, clock)  # a restart on the same database
    again.tick()
    again.pull_orders()
    assert [e["data"]["change"] for e in events(site)] == ["cancelled"]


def test_a_pack_or_hand_over_of_a_cancelled_order_is_refused_at_the_hub_and_never_relayed(site):
    wms(site).decide("SO-10011", "cancel", {"reason": "refund"})
    site.hub.pull_orders()
    station = site.station("ST01")
    station.confirm("intercept", "order", "SO-10011", {"step": "weigh", "status": "cancelled"})
    pack = station.confirm("pack", "order", "SO-10011", {"units": []})
    ship = station.confirm("ship_load", "order", "SO-10011", {"carrier": "SF"})
    manifest = station.confirm("manifest", "manifest", "ST01-H00001", {"parcels": [{"order_id": "SO-10011"}]})
    assert station.push() == 4
    dead = {r["id"]: r for r in station.outbox.list_dead()}
    assert set(dead) == {pack, ship, manifest}
    assert all("cancelled by the WMS" in r["dead_reason"] for r in dead.values())
    assert {r[0] for r in station.conn.execute("SELECT upstream_status FROM sync_outbox WHERE state = 'dead'")} \
        == {"order_cancelled"}
    site.relay()
    actions = [c["action"] for c in wms(site).order_confirmations("SO-10011")]
    assert actions == ["intercept"]


def test_a_pack_the_hub_took_before_it_knew_is_refused_by_the_wms_and_shown_as_a_conflict(site):
    station = site.station("ST02")
    pack = station.confirm("pack", "order", "SO-10012", {"units": []})
    assert station.push() == 1
    wms(site).decide("SO-10012", "cancel", {"reason": "refund"})
    site.hub.pull_orders()
    site.relay()
    with site.hub.db.read() as conn:
        (letter,) = store.dead_letters(conn)
        found = [c for c in store.conflicts(conn) if c["kind"] == "order_cancelled"]
    assert letter["id"] == pack
    assert [(c["subject"], c["detail"]["station"], c["detail"]["action"]) for c in found] == \
        [("SO-10012", "ST02", "pack")]
    assert wms(site).order_confirmations("SO-10012") == []


def test_the_wms_refusing_a_pack_before_the_hub_pulled_the_cancel_is_still_a_conflict(site):
    """The relay may hear the WMS's refusal (order_cancelled) before the hub's order pull brings the cancel: the
    WMS's word alone makes the conflict, named with the WMS's reason once the pull brings it."""
    station = site.station("ST02")
    pack = station.confirm("pack", "order", "SO-10012", {"units": []})
    assert station.push() == 1
    wms(site).decide("SO-10012", "cancel", {"reason": "refund"})
    site.relay()  # no pull yet: the hub does not know the order was cancelled
    with site.hub.db.read() as conn:
        (letter,) = store.dead_letters(conn)
        found = [c for c in store.conflicts(conn) if c["kind"] == "order_cancelled"]
        assert store.get_order(conn, "SO-10012")["wms_status"] != "cancelled"
    assert letter["id"] == pack
    assert [(c["subject"], c["detail"]["station"], c["detail"]["action"], c["detail"]["confirmation"])
            for c in found] == [("SO-10012", "ST02", "pack", pack)]
    assert wms(site).order_confirmations("SO-10012") == []


def test_a_stop_returns_an_order_nobody_picked_to_open_and_schedules_no_escalation(site):
    station = site.station("ST01")
    station.confirm("scan", "order", "SO-10013")
    station.confirm("cancel", "order", "SO-10013", {"scope": "pack_session", "reason": "stopped"})
    assert station.push() == 2 and station.outbox.status()["depth"] == 0
    order = site.hub.order("SO-10013")
    assert order["stage"] == "open" and order["escalations"] == [] and "packing" in order["milestones"]
    stages = [(e["data"]["from"], e["data"]["stage"]) for e in events(site, "order_stage") if e["subject"] == "SO-10013"]
    assert stages == [("open", "packing"), ("packing", "open")]


def test_a_stop_returns_a_picked_order_to_picked_with_the_picks_escalations_only(site, clock):
    station = site.station("ST01")
    station.pick("SO-10014", "T-0014")
    station.push()
    due = {e["level"]: e["due"] for e in site.hub.order("SO-10014")["escalations"]}
    clock.advance(120)
    station.confirm("scan", "order", "SO-10014")
    station.confirm("weigh", "order", "SO-10014", {"result": "pass"})
    station.confirm("cancel", "order", "SO-10014", {"scope": "pack_session", "reason": "stopped"})
    assert station.push() == 3
    order = site.hub.order("SO-10014")
    assert order["stage"] == "picked"
    assert {e["level"]: e["due"] for e in order["escalations"]} == due  # still due from the pick, not the Stop
    stages = [e["data"]["stage"] for e in events(site, "order_stage") if e["subject"] == "SO-10014"]
    assert stages == ["picked", "packing", "weighed", "picked"]
