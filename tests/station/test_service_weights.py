"""The learned weight gate at the table (``weighing.gate = "learned"``), through the station's API.

A reference upstream of its own (the demo seed plus a phone case of 150 g and its 20 g cable, packed in the
120 g small box, and twelve orders of that pair) so the parcels are repeated as on a real floor. Today's rule
allows ±28.35 g at 290 g (the ounce floor): a parcel without its cable passes. After enough passing parcels the
gate judges on their history and catches it; the learned figures survive a restart.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from packgate.station.service import Station
from packgate.sync.common.db import connect, write_tx
from packgate.sync.upstream import store as upstream_store
from packgate.sync.upstream.server import start_in_thread

ORDERS = [f"SO-W{i:02d}" for i in range(1, 13)]
CASES = [f"SO-V{i:02d}" for i in range(1, 15)]  # the case alone: its catalogue says 150 g, it weighs 160 g
# the passing parcels: a box varies by a gram or two
PASSING = ["290.2", "289.1", "291.0", "290.6", "288.9", "290.0", "289.7", "290.8"]
LEARNED = {"weighing.gate": "learned"}
READER = "ST01-badge"


@pytest.fixture(scope="module")
def wms(tmp_path_factory, world):
    path = tmp_path_factory.mktemp("wms") / "wms.db"
    url, stop = start_in_thread("127.0.0.1", 0, path, seed_demo=True, today=world.today)
    conn = connect(str(path))
    at = datetime.fromisoformat("2026-01-05T08:00:00+08:00")
    with write_tx(conn):
        upstream_store.upsert_reference(conn, "skus", [
            {"sku": "SKU-901", "gtin": None, "name": "Phone case", "unit_weight_g": "150.0", "special": False,
             "lot_policy": "NONE", "category": "electronics"},
            {"sku": "SKU-902", "gtin": None, "name": "USB cable", "unit_weight_g": "20.0", "special": False,
             "lot_policy": "NONE", "category": "electronics"}], at)
        upstream_store.upsert_reference(conn, "lots", [
            {"sku": s, "lot": "-", "produced": None, "expires": None, "bin": "W-01-01", "qty": 50}
            for s in ("SKU-901", "SKU-902")], at)
        upstream_store.upsert_reference(conn, "orders", [
            {"order_id": o, "tote": None, "packaging": "BOX-S", "priority": 0, "status": "open",
             "lines": [{"sku": "SKU-901", "qty": 1}, {"sku": "SKU-902", "qty": 1}]} for o in ORDERS] +
            [{"order_id": o, "tote": None, "packaging": "BOX-S", "priority": 0, "status": "open",
              "lines": [{"sku": "SKU-901", "qty": 1}]} for o in CASES], at)
    conn.close()
    yield url
    stop()


@pytest.fixture
def tables(tmp_path, wms, clock):
    """A factory of stations over one station.db, on this module's upstream (a second build is a restart)."""
    from station_factory import StationFactory  # on this module's own upstream

    factory = StationFactory(tmp_path, wms, clock)
    yield factory
    factory.close()


def parcel(station: Station, order_id: str, grams: str, items: tuple[str, ...] = ("SKU-901", "SKU-902")) -> dict:
    """Open ``order_id``, scan its ``items`` (the case and its cable), weigh ``grams``; returns the verdict."""
    assert station.handle({"action": "scan", "object_id": order_id})["code"] == "order_opened"
    for code in items:
        answer = station.handle({"action": "scan", "object_id": code})
        assert answer["code"] == "item_accepted", answer
    assert str(station.pack.state) == "ready_to_weigh"
    return station.handle({"action": "weigh", "payload": {"grams": grams, "stable": True}})


def packed(station: Station, order_id: str, grams: str, items: tuple[str, ...] = ("SKU-901", "SKU-902")) -> dict:
    verdict = parcel(station, order_id, grams, items)
    assert verdict["code"] == "weight_ok", verdict
    assert station.handle({"action": "pack"})["code"] == "packed"
    return verdict


def test_today_a_parcel_without_its_20_g_cable_passes(tables, h):
    station = tables()
    h.sign_in(station)
    verdict = parcel(station, ORDERS[0], "270.0")
    assert verdict["code"] == "weight_ok" and verdict["data"]["allowed_g"] == "28.3"
    assert "basis" not in verdict["data"]  # the catalogue gate is today's, word for word
    assert "basis" not in h.outbox_rows(station, "action = 'weigh'")[-1]["body"]["payload"]


def test_a_new_learned_table_judges_as_today_and_says_so(tables, h):
    station = tables(overrides=LEARNED)
    h.sign_in(station)
    verdict = parcel(station, ORDERS[0], "270.0")
    assert verdict["code"] == "weight_ok" and verdict["data"]["allowed_g"] == "28.3"
    assert verdict["data"]["basis"] == "catalogue" and verdict["data"]["expected_g"] == "290.0"
    assert verdict["message"].endswith("(expected 290.0 g from the catalogue, ±28.3 g)")
    assert "预期290.0克（依据商品目录），允许±28.3克" in verdict["message_zh"]


def test_passing_parcels_teach_the_gate_which_then_catches_the_missing_cable_and_keeps_it(tables, h):
    station = tables(overrides=LEARNED)
    h.sign_in(station)
    for order_id, grams in zip(ORDERS, PASSING, strict=False):
        packed(station, order_id, grams)
    rows = station.parts.conn.execute("SELECT box, items, measured_g, result FROM weight_samples ORDER BY seq").fetchall()
    assert [(r["box"], r["items"], r["result"]) for r in rows] == \
        [("BOX-S", '[["SKU-901", 1], ["SKU-902", 1]]', "passed")] * len(PASSING)
    assert [Decimal(r["measured_g"]) for r in rows] == [Decimal(g) for g in PASSING]
    assert station.weights.relearn() is True and station.weights.relearn() is False  # nothing new the 2nd time

    verdict = parcel(station, ORDERS[len(PASSING)], "270.0")
    assert verdict["code"] == "weight_out_of_tolerance", verdict
    data = verdict["data"]
    assert data["basis"] == "signature" and data["basis_n"] == len(PASSING)
    assert Decimal("2") <= Decimal(data["allowed_g"]) < Decimal("10")
    assert f"from {len(PASSING)} earlier parcels, ±{data['allowed_g']} g)" in verdict["message"]
    assert f"依据此前{len(PASSING)}个相同包裹" in verdict["message_zh"]
    weigh = h.outbox_rows(station, "action = 'weigh'")[-1]["body"]["payload"]  # upstream is told the figure too
    assert (weigh["result"], weigh["basis"], weigh["basis_n"]) == ("fail", "signature", len(PASSING))
    again = station.handle({"action": "reweigh"})
    assert again["code"] == "reweigh"
    assert station.handle({"action": "weigh", "payload": {"grams": "290.4", "stable": True}})["code"] == "weight_ok"
    assert station.handle({"action": "pack"})["code"] == "packed"
    station.close()

    restarted = tables(overrides=LEARNED)  # the same station.db (the packer still signed in): nothing relearned
    assert restarted.weights.learned.upto_seq == len(PASSING)
    verdict = parcel(restarted, ORDERS[len(PASSING) + 1], "270.0")
    assert verdict["code"] == "weight_out_of_tolerance" and verdict["data"]["basis"] == "signature", verdict


def test_an_overridden_parcel_is_kept_apart_and_does_not_teach(tables, h):
    station = tables(overrides=LEARNED)
    h.sign_in(station)
    assert parcel(station, ORDERS[0], "340.0")["code"] == "weight_out_of_tolerance"
    station.handle({"action": "override", "payload": {"reason": "extra flyer"}})
    approved = station.on_badge(h.BADGES["supervisor"], READER)  # the supervisor in person
    assert approved["code"] == "weight_overridden", approved
    assert station.handle({"action": "pack"})["code"] == "packed"
    rows = station.parts.conn.execute("SELECT result, measured_g FROM weight_samples").fetchall()
    assert [(r["result"], r["measured_g"]) for r in rows] == [("overridden", "340.0")]
    station.weights.relearn()
    assert station.weights.learned.signatures == {} and station.weights.learned.parcels == 0


class Browser:
    """The supervisor page's requests: the session cookie and the CSRF token, as its JS sends them."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = self.client.get("/api/v1/csrf").get_json()["csrf_token"]

    def post(self, path, body):
        response = self.client.post(path, json=body, headers={"X-CSRF-Token": self.token})
        self.token = (response.get_json(silent=True) or {}).get("csrf_token") or self.token
        return response


def test_a_wrong_catalogue_weight_is_listed_for_review_and_a_present_supervisor_accepts_it(tables, h):
    from packgate.station.web.app import create_app

    station = tables(overrides=LEARNED)
    h.sign_in(station)
    for i, order_id in enumerate(CASES[:12]):  # the case alone weighs 280 g, not 270 g: each passes on ±28.35 g
        packed(station, order_id, str(Decimal("279.5") + Decimal(i % 3) / 2), ("SKU-901",))
    station.weights.relearn()
    app = create_app(station, secret_key=b"s" * 32)
    page = Browser(app)
    assert page.client.get("/api/v1/supervisor/weights").status_code == 401
    packer = page.post("/api/v1/pda/login", {"badge": h.BADGES["packer"], "pin": h.PINS["packer"]}).get_json()
    assert packer["status"] == "ok"
    assert page.post("/api/v1/supervisor/weights/SKU-901", {"action": "accept"}).status_code == 403
    page.post("/api/v1/pda/logout", {})
    assert page.post("/api/v1/pda/login", {"badge": h.BADGES["supervisor"], "pin": h.PINS["supervisor"]}).get_json()["status"] == "ok"

    review = page.client.get("/api/v1/supervisor/weights").get_json()
    [suspect] = review["suspects"]
    assert suspect["sku"] == "SKU-901" and suspect["name"] == "Phone case" and suspect["reference_g"] == "150.0"
    assert suspect["source"] == "passing" and suspect["passing"]["n"] == 12 and suspect["overridden"] is None
    assert Decimal("159") < Decimal(suspect["proposed_g"]) < Decimal("161") and len(suspect["passing"]["samples"]) == 5

    wrong = page.post("/api/v1/supervisor/weights/SKU-901", {"action": "approve"}).get_json()
    assert wrong["code"] == "weight_decision_unknown" and wrong["status"] == "error"
    assert page.post("/api/v1/supervisor/weights/SKU-902", {"action": "accept"}).get_json()["code"] == "weight_not_suspect"
    done = page.post("/api/v1/supervisor/weights/SKU-901", {"action": "accept", "reason": "new supplier"}).get_json()
    assert done["code"] == "weight_accepted" and done["data"]["value_g"] == suspect["proposed_g"], done
    assert "已通知WMS" in done["message_zh"]
    audit = station.parts.conn.execute("SELECT who, action, object_id, reason FROM audit WHERE action LIKE 'weight_%'").fetchall()
    assert [tuple(r) for r in audit] == [("E005", "weight_accept", "SKU-901", "new supplier")]
    [conf] = h.outbox_rows(station, "action = 'weight_learned'")
    body = conf["body"]
    assert (body["object_type"], body["object_id"], body["operator"]) == ("sku", "SKU-901", "E005")
    assert body["payload"]["unit_weight_g"] == suspect["proposed_g"] and body["payload"]["catalogue_g"] == "150.0"
    assert body["payload"]["passing"]["n"] == 12

    # the gate judges on the accepted weight at once: a case at 280 g is now expected, not 10 g over
    verdict = parcel(station, CASES[12], "280.0", ("SKU-901",))
    assert verdict["code"] == "weight_ok" and Decimal(verdict["data"]["expected_g"]) == 120 + Decimal(suspect["proposed_g"])
    assert verdict["data"]["accepted"] == ["SKU-901"]
    station.handle({"action": "pack"})
    station.weights.relearn()
    assert page.client.get("/api/v1/supervisor/weights").get_json()["suspects"] == []


def test_an_api_client_decides_only_with_the_supervisors_badge_and_pin_and_a_reset_forgets(tables, h):
    from packgate.station.web.app import create_app

    station = tables(overrides=LEARNED)
    h.sign_in(station)
    for order_id in CASES[:12]:
        packed(station, order_id, "280.0", ("SKU-901",))
    station.weights.relearn()
    client = create_app(station, secret_key=b"s" * 32, api_tokens=("t" * 32,)).test_client()
    auth = {"Authorization": "Bearer " + "t" * 32}
    no_pin = client.post("/api/v1/supervisor/weights/SKU-901", json={"action": "reset"}, headers=auth)
    assert no_pin.status_code == 403 and no_pin.get_json()["code"] == "presence_required"
    bad_pin = client.post("/api/v1/supervisor/weights/SKU-901", headers=auth, json={
        "action": "reset", "supervisor_badge": h.BADGES["supervisor"], "supervisor_pin": "0000"})
    assert bad_pin.status_code == 403 and bad_pin.get_json()["code"] == "bad_login"
    packer = client.post("/api/v1/supervisor/weights/SKU-901", headers=auth, json={
        "action": "reset", "supervisor_badge": h.BADGES["packer"], "supervisor_pin": h.PINS["packer"]})
    assert packer.get_json()["code"] == "not_supervisor"
    reset = client.post("/api/v1/supervisor/weights/SKU-901", headers=auth, json={
        "action": "reset", "supervisor_badge": h.BADGES["supervisor"], "supervisor_pin": h.PINS["supervisor"]})
    assert reset.get_json()["code"] == "weight_reset", reset.get_json()
    assert h.outbox_rows(station, "action = 'weight_learned'") == []  # a reset tells the WMS nothing
    assert client.get("/api/v1/supervisor/weights", headers=auth).get_json()["suspects"] == []  # decided: off the list
    again = client.post("/api/v1/supervisor/weights/SKU-901", headers=auth, json={
        "action": "accept", "supervisor_badge": h.BADGES["supervisor"], "supervisor_pin": h.PINS["supervisor"]})
    assert again.get_json()["code"] == "weight_not_suspect"  # not decided twice before the learning has run
    assert station.weights.relearn() is True  # the decision alone is new: learning runs again, without those parcels
    assert "SKU-901" not in station.weights.learned.skus
    assert client.get("/api/v1/supervisor/weights", headers=auth).get_json()["suspects"] == []


def test_the_agent_learns_in_a_loop_of_its_own_only_with_the_learned_gate(tmp_path, upstream_url):
    from packgate.station.runtime.agent import Agent
    from packgate.station.runtime.config import validate

    def agent(name: str, **extra: object) -> Agent:
        return Agent(validate({"station.data_dir": str(tmp_path / name), "upstream.url": upstream_url,
                               "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False, **extra}),
                     start_devices=False)

    catalogue = agent("a")
    try:
        assert catalogue.learner is None and all(loop.name != "weights" for loop in catalogue.loops)
    finally:
        catalogue.stop()
    learned = agent("b", **{**LEARNED, "weighing.learn_every_s": 30.0})
    try:
        assert learned.learner is not None and learned.learner in learned.loops and learned.learner.every_s == 30.0
        assert learned.learner.run_once() is None and learned.station.weights.learned.parcels == 0  # nothing yet
    finally:
        learned.stop()


def frame(grams: str, flag: str = "S"):
    """The reading a Mettler MT-SICS scale's ``S S`` (stable) / ``S D`` (dynamic) frame decodes to."""
    from packgate.device.profiles import get_profile

    return get_profile("mettler-mt-sics").codec.decode(f"S {flag} {Decimal(grams):>10.1f} g\r\n".encode())


PER_ITEM = {"weighing.mode": "per_item"}  # the MT-SICS profile's division: 1 g


def test_per_item_weighing_checks_the_box_then_each_item_before_the_next_scan_counts(tables, h, clock):
    station = tables(overrides=PER_ITEM)
    h.sign_in(station)
    assert station.handle({"action": "scan", "object_id": ORDERS[0]})["code"] == "order_opened"
    first = station.handle({"action": "scan", "object_id": "SKU-901"})
    assert first["code"] == "box_first" and station.pack.units == ()
    for grams in ("118.0", "120.3", "120.6"):  # the box settles by time on a scale that never flags it stable
        station.on_reading(frame(grams, "D"))
        clock.advance(0.3)
    station.on_reading(frame("120.4", "D"))
    assert station.verdict["code"] == "box_tare_ok", station.verdict
    case = station.handle({"action": "scan", "object_id": "SKU-901"})
    assert case["code"] == "item_accepted" and case["per_item"]["waiting"] == "SKU-901"
    assert station.handle({"action": "scan", "object_id": "SKU-902"})["code"] == "item_not_placed"
    assert [u.sku for u in station.pack.units] == ["SKU-901"]  # scanned but not placed: the next scan did not count
    station.on_reading(frame("270.7"))
    assert station.verdict["code"] == "item_placed", station.verdict
    assert station.handle({"action": "scan", "object_id": "SKU-902"})["code"] == "item_accepted"
    assert str(station.pack.state) == "ready_to_weigh"
    station.on_reading(frame("310.9"))  # two cables' worth: not judged as the parcel, nothing weighed
    assert station.verdict["code"] == "item_placed_twice" and str(station.pack.state) == "ready_to_weigh"
    station.on_reading(frame("290.8"))
    assert str(station.pack.state) == "weighed_ok", station.verdict  # all placed: the parcel is weighed as before
    assert h.outbox_rows(station, "action = 'weigh'")[-1]["body"]["payload"]["measured_g"] == "290.8"


def test_a_per_item_session_survives_a_restart_mid_parcel(tables, h, clock):
    station = tables(overrides=PER_ITEM)
    h.sign_in(station)
    assert station.handle({"action": "scan", "object_id": ORDERS[0]})["code"] == "order_opened"
    station.on_reading(frame("120.4"))
    assert station.verdict["code"] == "box_tare_ok", station.verdict
    assert station.handle({"action": "scan", "object_id": "SKU-901"})["code"] == "item_accepted"
    station.close()  # the case scanned, not yet placed: the table restarts

    again = tables(overrides=PER_ITEM)
    assert str(again.pack.state) == "scanning" and [u.sku for u in again.pack.units] == ["SKU-901"]
    assert again.items.view()["waiting"] == "SKU-901"  # the box is not asked for again, the case still awaited
    assert again.handle({"action": "scan", "object_id": "SKU-902"})["code"] == "item_not_placed"
    again.on_reading(frame("270.6"))
    assert again.verdict["code"] == "item_placed", again.verdict
    again.close()

    third = tables(overrides=PER_ITEM)  # the case placed: that is kept too
    assert third.items.view()["placed"] == ["SKU-901"] and third.items.view()["waiting"] is None
    assert third.handle({"action": "scan", "object_id": "SKU-902"})["code"] == "item_accepted"
    third.on_reading(frame("290.5"))  # the cable placed: every item is in, the parcel is weighed as before
    assert str(third.pack.state) == "weighed_ok" and third.verdict["code"] == "weight_ok", third.verdict
    assert third.handle({"action": "pack"})["code"] == "packed"
    third.on_reading(frame("0.0"))
    assert third.parts.conn.execute("SELECT COUNT(*) FROM per_item_session").fetchone()[0] == 0


def test_in_a_site_a_table_out_of_reach_of_its_hub_decides_nothing_and_says_so(tmp_path, wms, clock, h):
    from packgate.device.emulation.ports import free_tcp_port
    from packgate.station.runtime.config import validate
    from packgate.station.web.app import create_app
    from packgate.sync.client import UpstreamClient
    from packgate.sync.hub_client import SiteClient
    from packgate.sync.outbox import Outbox
    from packgate.sync.reference import ReferenceCache

    db = str(tmp_path / "station.db")
    client = UpstreamClient(wms, deadline_s=5, clock=clock)
    cache = ReferenceCache(db, client, clock)
    assert cache.refresh()["ok"]
    gone = SiteClient(f"http://127.0.0.1:{free_tcp_port()}", "ST01", "t" * 32, deadline_s=1)  # nothing listens
    station = Station(validate({"station.id": "ST01", "upstream.url": wms, "upstream.kind": "hub",
                                "upstream.token": "t" * 32, **LEARNED}),
                      db_path=db, cache=cache, outbox=Outbox(db, "ST01", clock), clock=clock, site=gone)
    try:
        h.sign_in(station)
        for order_id in CASES[:12]:
            packed(station, order_id, "280.0", ("SKU-901",))
        assert station.weights.site_sync() is False and station.weights.hub_error  # unreachable: its own figures
        station.weights.relearn()
        page = Browser(create_app(station, secret_key=b"s" * 32))
        assert page.post("/api/v1/pda/login", {"badge": h.BADGES["supervisor"],
                                               "pin": h.PINS["supervisor"]}).get_json()["status"] == "ok"
        review = page.client.get("/api/v1/supervisor/weights").get_json()
        assert [s["sku"] for s in review["suspects"]] == ["SKU-901"] and review["site"]["offline"] is True
        refused = page.post("/api/v1/supervisor/weights/SKU-901", {"action": "accept"}).get_json()
        assert refused["code"] == "hub_unreachable" and refused["status"] == "error", refused
        assert station.parts.conn.execute("SELECT COUNT(*) FROM weight_decisions").fetchone()[0] == 0
        assert h.outbox_rows(station, "action = 'weight_learned'") == []  # nothing decided, nothing sent
        assert [s["sku"] for s in page.client.get("/api/v1/supervisor/weights").get_json()["suspects"]] == ["SKU-901"]
    finally:
        station.close()
        cache.close()
        client.close()
