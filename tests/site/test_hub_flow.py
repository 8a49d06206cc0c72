"""The hub against real servers: auth, exactly-once relay, the site's order flow, claims, feed, lots."""
from __future__ import annotations

import json
import threading
import time

import requests
from hubkit import dashboard_sign_in

from packgate.sync.errors import ClaimConflictError
from packgate.sync.hub_client import FeedFollower, SiteClient

TOKENS = {"ST01": "token-of-station-01-abcdef", "ST02": "token-of-station-02-abcdef"}


def client(site, station="ST01"):
    return SiteClient(site.url, station, TOKENS[station])


def wms_stats(wms):
    return requests.get(f"{wms}/v1/admin/stats", timeout=5).json()


def test_requests_need_the_station_token_of_the_station_they_name(site):
    body = {"station": "ST01", "confirmations": []}
    assert requests.post(f"{site.url}/v1/confirmations", json=body, timeout=5).status_code == 401
    bad = requests.post(f"{site.url}/v1/confirmations", json=body, timeout=5,
                        headers={"Authorization": "Bearer not-a-known-token-xyz"})
    assert bad.status_code == 401 and "unknown station token" in bad.json()["error"]
    other = requests.post(f"{site.url}/v1/confirmations", json=body, timeout=5,
                          headers={"Authorization": f"Bearer {TOKENS['ST02']}"})
    assert other.status_code == 403 and "ST02" in other.json()["error"]
    beat = requests.post(f"{site.url}/v1/stations/ST01/heartbeat", json={}, timeout=5,
                         headers={"Authorization": f"Bearer {TOKENS['ST02']}"})
    assert beat.status_code == 403
    assert requests.get(f"{site.url}/v1/feed", timeout=5).status_code == 401
    assert requests.get(f"{site.url}/healthz", timeout=5).status_code == 200


def test_bad_input_is_a_json_error_never_a_500(site):
    auth = {"Authorization": f"Bearer {TOKENS['ST01']}"}
    cases = [("post", "/v1/confirmations", b"{not json"), ("post", "/v1/claims", b"[]"),
             ("post", "/v1/claims", json.dumps({"station": "ST01", "order_id": 5}).encode()),
             ("get", "/v1/feed?since=-1", None), ("get", "/v1/feed?since=99999999999999999999999", None),
             ("get", "/v1/reference?since=abc", None), ("get", "/v1/nowhere", None),
             ("put", "/v1/confirmations", b"{}"),
             ("post", "/v1/stations/ST01/heartbeat", json.dumps({"outbox_depth": -1}).encode())]
    for method, path, body in cases:
        resp = requests.request(method, site.url + path, data=body, headers=auth, timeout=5)
        assert 400 <= resp.status_code < 500, (path, resp.status_code)
        assert resp.headers["Content-Type"].startswith("application/json") and resp.json()["error"], path


def test_every_confirmation_reaches_the_wms_once_under_the_stations_own_id(site, wms):
    a = site.station("ST01")
    ids = [a.confirm("scan", "order", "SO-10012", {"n": n}) for n in range(5)]
    a.push()
    with a.conn:
        resent = [bytes(row[0]) for row in a.conn.execute("SELECT body FROM sync_outbox ORDER BY seq LIMIT 2")]
    again = a.client.send_confirmations("ST01", resent)  # a station retrying after a lost answer
    assert {r["status"] for r in again.values()} == {"duplicate"}
    assert site.relay() == 5
    assert site.relay() == 0
    stats = wms_stats(wms)
    assert stats["confirmations"] == 5 and stats["effects"] == 5
    upstream = requests.get(f"{wms}/v1/orders/SO-10012/confirmations", timeout=5).json()["confirmations"]
    assert [c["id"] for c in upstream] == ids and {c["station"] for c in upstream} == {"ST01"}
    health = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert health["relay"]["depth"] == 0 and health["relay"]["sent"] == 5


def test_relay_survives_a_wms_outage_and_keeps_order(site, wms, clock):
    a = site.station("ST01")
    site.hub.client.http = type(site.hub.client.http)("http://127.0.0.1:9", deadline_s=1)
    ids = [a.confirm("scan", "order", "SO-10012", {"n": n}) for n in range(3)]
    a.push()
    assert site.hub.relay.run_once()["outcome"] == "failed"
    site.hub.client.http = type(site.hub.client.http)(wms, deadline_s=5)
    clock.advance(400)
    assert site.relay() == 3
    upstream = requests.get(f"{wms}/v1/orders/SO-10012/confirmations", timeout=5).json()["confirmations"]
    assert [c["id"] for c in upstream] == ids


def test_picked_at_one_table_is_picked_for_the_whole_site(site):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    order = client(site, "ST02").order("SO-10012")
    assert order["stage"] == "picked" and order["station"] == "ST01" and order["operator"] == "E004"
    assert "picked" in order["milestones"] and [e["level"] for e in order["escalations"]] == [1, 2]
    b = site.station("ST02")
    b.pack("SO-10012")
    b.push()
    order = client(site, "ST01").order("SO-10012")
    assert order["stage"] == "packed" and order["station"] == "ST02"
    assert {e["state"] for e in order["escalations"]} == {"void"}
    assert client(site).order("SO-99999") is None


def test_a_second_table_is_refused_naming_table_and_person_until_release(site):
    one, two = client(site, "ST01"), client(site, "ST02")
    assert one.claim("SO-10012", "E002")["station"] == "ST01"
    try:
        two.claim("SO-10012", "E001")
    except ClaimConflictError as exc:
        assert str(exc) == "SO-10012 is being packed at Packing table 1 by Maria Garcia"
    else:
        raise AssertionError("the second table was not refused")
    assert one.renew("SO-10012", "E002")["station"] == "ST01"
    assert one.release("SO-10012")
    assert two.claim("SO-10012", "E001")["station"] == "ST02"


def test_a_claim_of_a_silent_table_expires_and_heartbeats_keep_it(site, clock):
    one, two = client(site, "ST01"), client(site, "ST02")
    one.claim("SO-10012", "E002")
    clock.advance(100)
    one.heartbeat(operator="E002", order_id="SO-10012", state="scanning", devices={"scale": "ok"}, outbox_depth=0)
    clock.advance(100)
    site.hub.tick()
    try:
        two.claim("SO-10012", "E001")
        raise AssertionError("a renewed claim was taken")
    except ClaimConflictError:
        pass
    clock.advance(121)
    assert site.hub.tick()["expired"] == ["SO-10012"]
    assert two.claim("SO-10012", "E001")["station"] == "ST02"


def test_claims_hold_under_concurrent_tables(site):
    winners = []

    def grab(station):
        try:
            client(site, station).claim("SO-10013", "E001")
            winners.append(station)
        except ClaimConflictError:
            pass

    threads = [threading.Thread(target=grab, args=(s,)) for s in ("ST01", "ST02") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(winners)) == 1


def test_feed_is_gapless_ordered_and_complete(site):
    a, b = site.station("ST01"), site.station("ST02")
    one = client(site, "ST01")
    start = int(one.feed(0, 0)["cursor"])
    a.pick("SO-10012", "T-0012", lots=(("SKU-024", "unknown-lot", 1),))
    a.push()
    one.claim("SO-10013", "E001")
    b.pack("SO-10012")
    b.push()
    events = one.feed(start, 0)["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(start + 1, start + 1 + len(seqs)))
    kinds = [(e["kind"], e["subject"]) for e in events]
    assert ("lot_taken", "SKU-024/unknown-lot") in kinds and ("claim", "SO-10013") in kinds
    stages = [e["data"]["stage"] for e in events if e["kind"] == "order_stage"]
    assert stages == ["picking", "picked", "weighed", "packed"]


def test_the_follower_sees_a_change_within_a_second_and_persists_its_cursor(site, tmp_path):
    seen = []
    (tmp_path / "cursor").write_text(client(site).feed(0, 0)["head"])
    follower = FeedFollower(client(site, "ST02"), seen.append, tmp_path / "cursor", wait_s=2).start()
    time.sleep(0.3)  # the follower is inside its long-poll
    started = time.monotonic()
    client(site, "ST01").claim("SO-10014", "E003")
    while not seen and time.monotonic() - started < 3:
        time.sleep(0.005)
    took = time.monotonic() - started
    follower.stop(timeout=4)
    assert [e["subject"] for e in seen] == ["SO-10014"] and took < 1.0
    assert follower.cursor == seen[-1]["seq"]


def test_site_wide_lot_stock_and_an_overdrawn_lot_is_a_conflict(site):
    a, b = site.station("ST01"), site.station("ST02")
    ref = requests.get(f"{site.url}/v1/reference", timeout=5, headers={"Authorization": f"Bearer {TOKENS['ST01']}"})
    lot = next(row for row in ref.json()["lots"] if row["sku"] == "SKU-030")
    a.pick("SO-10012", "T-0012", lots=((lot["sku"], lot["lot"], lot["qty"]),))
    b.pick("SO-10013", "T-0013", lots=((lot["sku"], lot["lot"], 1),))
    a.push()
    b.push()
    events = client(site).feed(0, 0)["events"]
    taken = [e["data"] for e in events if e["kind"] == "lot_taken" and e["data"]["lot"] == lot["lot"]]
    assert [t["left"] for t in taken] == [0, -1] and [t["station"] for t in taken] == ["ST01", "ST02"]
    conflicts = [e["data"] for e in events if e["kind"] == "conflict"]
    assert conflicts and conflicts[0]["kind"] == "lot_overdrawn" and conflicts[0]["station"] == "ST02"


def test_the_same_order_packed_at_two_tables_offline_is_a_conflict_not_a_merge(site):
    a, b = site.station("ST01"), site.station("ST02")
    a.pack("SO-10012")
    b.pack("SO-10012")
    a.push()
    b.push()
    order = client(site).order("SO-10012")
    assert order["stage"] == "packed" and order["station"] == "ST01"
    events = client(site).feed(0, 0)["events"]
    clash = [e["data"] for e in events if e["kind"] == "conflict"]
    assert clash == [{"kind": "packed_twice", "order_id": "SO-10012", "first_station": "ST01",
                      "second_station": "ST02", "confirmation": clash[0]["confirmation"]}]
    assert site.relay() == 4  # both packs still reach the WMS: nothing is dropped


def test_openapi_lists_every_hub_endpoint(site):
    doc = requests.get(f"{site.url}/openapi.json", timeout=5).json()
    for path in ("/v1/confirmations", "/v1/reference", "/v1/orders/{order_id}", "/v1/claims",
                 "/v1/claims/{order_id}", "/v1/stations/{station_id}/heartbeat", "/v1/feed", "/healthz"):
        assert path in doc["paths"], path
    assert "/v1/admin/{kind}" not in doc["paths"] and doc["components"]["securitySchemes"]["station"]["scheme"] == "bearer"


def test_a_parcel_packed_and_not_handed_over_shows_on_the_dashboard_until_it_is(site):
    """After ``dock.handover_after_min`` (120) a packed parcel no dock batch took is listed, in both languages;
    its ``ship_load`` takes it off; a weigh-and-ship parcel (its weighing is the shipment) never shows."""
    from packgate.sync.upstream.demo_data import DEMO_BADGES

    station = site.station("ST01")
    station.pack("SO-10007")
    station.pack("SO-10009")
    station.confirm("weigh", "order", "SO-10013", {"result": "pass"})
    station.confirm("pack", "order", "SO-10013", {"units": [], "shipped": True, "waybill": "SF0000013"})
    station.push()

    def waiting(lang: str = "en") -> tuple[list[str], str]:
        http = requests.Session()
        assert dashboard_sign_in(http, site.url, DEMO_BADGES["supervisor"], "9876").status_code == 303
        rows = http.get(f"{site.url}/api/dashboard?lang={lang}", timeout=5).json()["not_handed_over"]
        page = http.get(f"{site.url}/?lang={lang}", timeout=5).text  # the panel's heading; its rows come as JSON
        return [p["order_id"] for p in rows], page + "".join(f"{p['table']} {p['waiting']}" for p in rows)

    assert waiting()[0] == []  # packed just now
    site.clock.advance(121 * 60)
    listed, page = waiting("zh")
    assert listed == ["SO-10007", "SO-10009"] and "已打包未出库" in page and "Packing table 1 2 小时 01 分钟" in page
    station.confirm("ship_load", "order", "SO-10007", {"carrier": "SF", "vehicle": "V1", "batch_id": "ST01-H00001"})
    station.push()
    listed, page = waiting("en")
    assert listed == ["SO-10009"] and "Packed, not handed over at the dock" in page
