"""Dock hand-over: parcels scanned into a carrier's batch; refusals with the reason; closing records one
``ship_load`` per parcel and a manifest, and the reference upstream ships each order exactly once."""
from __future__ import annotations

import json

import pytest

from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect
from packgate.sync.upstream import store as upstream_store
from packgate.sync.upstream.server import start_in_thread
from packgate.sync.worker import OutboxWorker

PACKER = "E001"


def _pack(station, world, h, order_id: str, grams_off: int = 0) -> dict:
    h.open_and_scan(station, world, order_id)
    verdict = station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g(order_id) + grams_off)}})
    if verdict["code"] == "weight_ok":
        verdict = station.handle({"action": "pack"})
    return verdict


@pytest.fixture
def packed(station, world, h):
    """SO-10009 (SF) and SO-10007 (SF) packed, SO-10011 (SF) blocked, SO-10008 (YTO) packed."""
    h.sign_in(station)
    for order_id in ("SO-10009", "SO-10007", "SO-10008"):
        assert _pack(station, world, h, order_id)["code"] == "packed"
    assert _pack(station, world, h, "SO-10011", grams_off=400)["code"] == "weight_out_of_tolerance"
    return station


def test_refusals_name_the_reason_in_both_languages(packed):
    dock = packed.dock
    opened = dock.open({"carrier": "SF", "vehicle": "粤B·12345", "route": "north"}, "E004")
    assert opened["code"] == "dock_batch_opened"
    batch = opened["batch"]["batch_id"]
    assert dock.scan(batch, "SO-10009", "E004")["code"] == "dock_parcel_added"
    again = dock.scan(batch, "SO-10009", "E004")
    assert again["code"] == "dock_already_handed_over" and batch in again["message"] and batch in again["message_zh"]
    blocked = dock.scan(batch, "SO-10011", "E004")
    assert blocked["code"] == "dock_not_packed" and "blocked" in blocked["message"] and "不得出库" in blocked["message_zh"]
    other = dock.scan(batch, "SO-10008", "E004")
    assert other["code"] == "dock_wrong_carrier" and "YTO" in other["message"] and "YTO" in other["message_zh"]
    unknown = dock.scan(batch, "SO-99999", "E004")
    assert unknown["code"] == "dock_unknown_parcel" and unknown["status"] == "error"
    never = dock.scan(batch, "SO-10012", "E004")  # known upstream, never packed here
    assert never["code"] in ("dock_unknown_parcel", "dock_not_packed")
    assert [p["order_id"] for p in dock.batch(batch)["parcels"]] == ["SO-10009"]
    assert {r["order_id"] for r in dock.waiting()} == {"SO-10007", "SO-10008"}
    bad = dock.open({"carrier": "", "vehicle": "x"}, "E004")
    assert bad["code"] == "dock_batch_bad" and "carrier" in bad["message"] and bad["message_zh"]


def test_closing_records_one_ship_load_per_parcel_and_a_manifest_once(packed, h):
    dock = packed.dock
    batch = dock.open({"carrier": "SF", "vehicle": "V1"}, "E004")["batch"]["batch_id"]
    assert dock.close(batch, "E004")["code"] == "dock_batch_empty"
    for order_id in ("SO-10009", "SO-10007"):
        assert dock.scan(batch, order_id, "E004")["code"] == "dock_parcel_added"
    closed = dock.close(batch, "E004")
    assert closed["code"] == "dock_batch_handed_over" and closed["data"]["parcels"] == 2
    assert dock.close(batch, "E004")["code"] == "dock_batch_closed"  # a second close adds nothing
    assert dock.scan(batch, "SO-10008", "E004")["code"] == "dock_batch_closed"
    loads = h.outbox_rows(packed, "action = 'ship_load'")
    assert sorted(r["object_id"] for r in loads) == ["SO-10007", "SO-10009"]
    assert all(r["body"]["payload"]["carrier"] == "SF" and r["body"]["operator"] == "E004" for r in loads)
    [manifest] = h.outbox_rows(packed, "action = 'manifest'")
    assert manifest["object_id"] == batch and {p["order_id"] for p in manifest["body"]["payload"]["parcels"]} == \
        {"SO-10007", "SO-10009"}
    assert packed.parts.conn.execute("SELECT status FROM order_state WHERE order_id = 'SO-10009'").fetchone()[0] == \
        "shipped"


def test_upstream_ships_each_order_once_even_when_everything_is_sent_twice(packed, make_station, tmp_path, clock):
    dock = packed.dock
    batch = dock.open({"carrier": "SF", "vehicle": "V1"}, "E004")["batch"]["batch_id"]
    for order_id in ("SO-10009", "SO-10007"):
        dock.scan(batch, order_id, "E004")
    dock.close(batch, "E004")
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True, today=clock.now().date())
    client = UpstreamClient(url, deadline_s=5, clock=clock)
    try:
        worker = OutboxWorker(make_station.db_path, client, clock)
        assert worker.drain() > 0
        # a station that lost its "sent" marks (restored backup) sends everything again
        packed.parts.conn.execute("UPDATE sync_outbox SET state = 'pending', sent_at = NULL")
        worker.drain()
        shipments = json.loads(client.http.request("GET", "/v1/admin/shipments").body)["shipments"]
        assert sorted(s["order_id"] for s in shipments) == ["SO-10007", "SO-10009"]
        wms = connect(str(tmp_path / "wms.db"))
        status = {o: upstream_store.get_reference(wms, "orders", o)["status"] for o in ("SO-10009", "SO-10008")}
        wms.close()
        assert status == {"SO-10009": "shipped", "SO-10008": "packed"}
    finally:
        client.close()
        stop()


def test_the_dock_api_over_http_with_a_pda_sign_in(packed, h):
    from packgate.station.web.app import create_app

    client = create_app(packed, secret_key=b"k" * 32).test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    refused = client.post("/api/v1/dock/batches", json={"carrier": "SF", "vehicle": "V1"}, headers=headers)
    assert refused.status_code == 401 and refused.get_json()["message_zh"]
    login = client.post("/api/v1/pda/login", json={"badge": h.BADGES["picker"], "pin": h.PINS["picker"]},
                        headers=headers).get_json()
    assert login["status"] == "ok"
    headers = {"X-CSRF-Token": login["csrf_token"]}  # sign-in starts a new session with a new token
    opened = client.post("/api/v1/dock/batches", json={"carrier": "SF", "vehicle": "V1"}, headers=headers).get_json()
    batch = opened["batch"]["batch_id"]
    added = client.post(f"/api/v1/dock/batches/{batch}/scan", json={"code": "SO-10009"}, headers=headers).get_json()
    assert added["code"] == "dock_parcel_added"
    bad = client.post(f"/api/v1/dock/batches/{batch}/scan", json={"code": 12}, headers=headers)
    assert bad.status_code == 200 and bad.get_json()["code"] == "dock_batch_bad"
    closed = client.post(f"/api/v1/dock/batches/{batch}/close", json={}, headers=headers).get_json()
    assert closed["code"] == "dock_batch_handed_over" and closed["batch"]["closed_by"] == h.IDS["picker"]
    assert client.get("/api/v1/dock/batches/NOPE").status_code == 404


def test_a_standalone_station_refuses_a_parcel_the_wms_cancelled_or_held_after_packing(tmp_path, clock, world, h):
    """No hub: the WMS's status reaches the station with its reference refresh (``upstream.refresh_s``), and the dock
    refuses the intercepted parcel with the WMS's reason: the one INTERCEPTED verdict of every stopped step, recorded
    as one ``intercept`` confirmation; released by the WMS, it goes."""
    from station_factory import StationFactory

    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True, today=clock.now().date(),
                                clock=clock)
    factory = StationFactory(tmp_path, url, clock)
    client = UpstreamClient(url, deadline_s=5, clock=clock)
    try:
        station = factory()  # its cache is not wired to the interception: only the dock's facts (reference rows) say
        h.sign_in(station)
        for order_id in ("SO-10009", "SO-10007"):
            assert _pack(station, world, h, order_id)["code"] == "packed"
        client.decide("SO-10009", "cancel", {"reason": "customer refund"})
        client.decide("SO-10007", "hold", {"reason": "address check"})
        assert factory.built[-1][2].refresh()["ok"]  # the station's next reference refresh
        batch = station.dock.open({"carrier": "SF", "vehicle": "V1"}, "E004")["batch"]["batch_id"]
        cancelled = station.dock.scan(batch, "SO-10009", "E004")
        assert (cancelled["code"], cancelled["status"], cancelled["sound"], cancelled["colour"]) == \
            ("intercepted", "intercepted", "intercept", "crimson"), cancelled
        at = clock.now().strftime("%H:%M")
        assert cancelled["message"] == (f"Order SO-10009 was cancelled by the WMS at {at} (customer refund). "
                                        "Put the parcel in the interception bin.")
        assert cancelled["message_zh"] == f"订单SO-10009已于{at}被WMS取消（customer refund）。请把包裹放入拦截区。"
        held = station.dock.scan(batch, "SO-10007", "E004")
        assert held["code"] == "intercepted" and "held" in held["message"] and "(address check)" in held["message"]
        assert "暂停" in held["message_zh"]
        assert station.dock.scan(batch, "SO-10007", "E004")["code"] == "intercepted"  # again: recorded once
        stopped = [(r["object_id"], r["body"]["payload"]["step"], r["body"]["payload"]["status"])
                   for r in h.outbox_rows(station, "action = ?", ("intercept",))]
        assert stopped == [("SO-10009", "dock_scan", "cancelled"), ("SO-10007", "dock_scan", "held")]
        assert station.dock.batch(batch)["parcels"] == []
        clock.advance(60)
        client.decide("SO-10007", "release", {})  # the WMS released the hold
        assert factory.built[-1][2].refresh()["ok"]
        assert station.dock.scan(batch, "SO-10007", "E004")["code"] == "dock_parcel_added"
    finally:
        client.close()
        factory.close()
        stop()


def test_a_pda_at_the_dock_is_its_own_device_in_what_its_scans_record_and_an_unknown_label_is_kept(packed, h):
    from packgate.device.clock import isoformat
    from packgate.station import store
    from packgate.sync.common.db import write_tx

    dock = packed.dock
    batch = dock.open({"carrier": "SF", "vehicle": "V1"}, "E004")["batch"]["batch_id"]
    row = {"order_id": "SO-10007", "status": "cancelled", "status_reason": "customer refund",
           "status_at": isoformat(packed.parts.clock.now())}
    with packed.parts.lock, write_tx(packed.parts.conn) as conn:
        packed.interception.learn(conn, [row], "test")
    assert dock.scan(batch, "SO-10007", "E004", "pda-7f3a9c")["code"] == "intercepted"
    (stopped,) = h.outbox_rows(packed, "action = 'intercept'")
    assert stopped["body"]["device"] == "ST01-pda-7f3a9c" and stopped["body"]["payload"]["step"] == "dock_scan"
    assert dock.scan(batch, "EE999999999CN", "E004", "pda-7f3a9c")["code"] == "dock_unknown_parcel"
    with packed.parts.lock:
        kept = store.recent_rejected(packed.parts.conn, 5)
    assert (kept[0]["raw"], kept[0]["source"]) == ("EE999999999CN", "ST01-pda-7f3a9c")
