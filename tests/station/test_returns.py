"""Returns at the table (逆向物流) end to end with the reference WMS on 127.0.0.1: the WMS announces an RMA, the table
receives the parcel by scanning, checks each unit against what was shipped, grades, weighs and closes it; the
confirmations reach the WMS exactly once, which refunds (every unit A, weight matched) or marks the RMA for review
and restocks the A-grade units into their lots once."""
from __future__ import annotations

import json

import pytest
from station_factory import StationFactory

from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect
from packgate.sync.upstream import store as wms_store
from packgate.sync.upstream.server import start_in_thread
from packgate.sync.worker import OutboxWorker

PACKER, PACKER2, SUPERVISOR = "E001", "E002", "E005"


class Wms:
    """A seeded reference WMS of the test's own (the returns change its stock and RMAs)."""

    def __init__(self, tmp_path, clock):
        self.db = tmp_path / "wms.db"
        self.url, self.stop = start_in_thread("127.0.0.1", 0, self.db, seed_demo=True, today=clock.now().date())
        self.client = UpstreamClient(self.url, deadline_s=5, clock=clock)

    def get(self, path: str) -> dict:
        return json.loads(self.client.http.request("GET", path).body)

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        r = self.client.http.request("POST", path, body=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        return r.status, json.loads(r.body)

    def rma(self, rma_id: str) -> dict:
        return self.get(f"/v1/admin/rmas/{rma_id}")["rma"]

    def lot_qty(self, sku: str, lot: str) -> int:
        conn = connect(str(self.db))
        try:
            return int(wms_store.get_reference(conn, "lots", f"{sku}\x1f{lot}")["qty"])
        finally:
            conn.close()

    def close(self) -> None:
        self.client.close()
        self.stop()


@pytest.fixture
def wms(tmp_path, clock):
    w = Wms(tmp_path, clock)
    yield w
    w.close()


@pytest.fixture
def table(tmp_path, wms, clock):
    factory = StationFactory(tmp_path, wms.url, clock)
    station = factory()
    station.factory = factory  # type: ignore[attr-defined]
    yield station
    factory.close()


def deliver(station, wms, clock) -> int:
    worker = OutboxWorker(station.factory.db_path, wms.client, clock)
    return worker.drain()


def refresh(station) -> None:
    assert station.factory.built[-1][2].refresh()["ok"]


def step(station, action: str, operator: str = PACKER, **body) -> dict:
    return station.returns.handle({"action": action, **body}, operator, "kiosk", "ST01-kiosk")


def pack(station, world, h, order_id: str, serials: dict[str, str] | None = None) -> None:
    """Pack ``order_id`` at the table (a special item's second person types badge and PIN)."""
    if station.pack.operator is None:
        h.sign_in(station)
    assert station.handle({"action": "scan", "object_id": order_id})["code"] == "order_opened"
    for line in world.orders[order_id]["lines"]:
        for _ in range(line["qty"]):
            serial = (serials or {}).get(line["sku"])
            answer = station.handle({"action": "scan", "object_id": h.item(world, line["sku"], serial=serial)})
            if answer["code"] == "second_badge_required":
                answer = station.handle({"action": "badge", "object_id": h.BADGES["packer2"],
                                         "payload": {"pin": h.PINS["packer2"]}})
            assert answer["code"] == "item_accepted", answer
    weighed = station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g(order_id))}})
    assert weighed["code"] == "weight_ok", weighed
    assert station.handle({"action": "pack"})["code"] == "packed"


def test_a_full_return_graded_a_is_refunded_once_and_restocked_into_its_lot(table, wms, world, h, clock):
    pack(table, world, h, "SO-10009")
    deliver(table, wms, clock)
    shipped = wms.rma("RMA-0001")["shipped"]
    assert {u["sku"] for u in shipped["units"]} == {"SKU-007", "SKU-025"} and shipped["weight_g"]
    refresh(table)

    received = step(table, "scan", code="RT-SF-0001")  # the return parcel's waybill opens it
    assert received["code"] == "return_received" and received["colour"] == "green" and received["sound"] == "ok"
    assert "RMA-0001" in received["message"] and "退货单RMA-0001" in received["message_zh"]
    view = table.returns.view("kiosk")
    assert view["rma"]["order_id"] == "SO-10009" and view["outbound"]["source"] == "station"
    assert view["outbound"]["record"]["order_id"] == "SO-10009"  # what was packed, side by side
    assert {u["sku"] for u in view["outbound"]["units"]} == {"SKU-007", "SKU-025"}
    for n, sku in enumerate(("SKU-007", "SKU-025"), start=1):
        taken = step(table, "scan", code=h.item(world, sku))
        assert taken["code"] == "return_item_taken" and taken["data"]["index"] == n, taken
    graded = step(table, "grade", payload={"unit": 1, "grade": "A"})
    assert graded["code"] == "return_graded_a" and graded["data"]["bin"] == "C-01-01", graded
    assert step(table, "grade", payload={"unit": 2, "grade": "A"})["code"] == "return_graded_a"
    early = step(table, "close")
    assert early["code"] == "return_close_unweighed" and early["status"] == "error"
    weighed = step(table, "weigh", payload={"grams": "95"})  # 58 g + 35 g
    assert weighed["code"] == "return_weight_ok", weighed
    closed = step(table, "close", key="close-rma-0001")
    assert closed["code"] == "return_closed_refund" and len(closed["confirmation_ids"]) == 1
    assert step(table, "close", key="close-rma-0001")["replayed"] is True  # a retry answers the first verdict
    assert step(table, "scan", code="RT-SF-0001")["code"] == "return_already_closed"

    actions = [r["action"] for r in h.outbox_rows(table, "object_type = 'rma'")]
    assert actions == ["return_received", "return_item", "return_item", "return_graded", "return_graded",
                       "return_closed"]
    assert table.returns.session("kiosk").rma is None  # closed: nothing open at the table any more
    [listed] = table.supervisor_overview()["returns"]  # the supervisor page lists it
    assert (listed["rma_id"], listed["state"], listed["outcome"]) == ("RMA-0001", "closed", "refund")
    before = wms.lot_qty("SKU-007", world.lots("SKU-007")[0]["lot"])
    deliver(table, wms, clock)
    rma = wms.rma("RMA-0001")
    assert rma["status"] == "refunded" and rma["outcome_reasons"] == [] and rma["grades"]["A"] == 2
    assert wms.lot_qty("SKU-007", world.lots("SKU-007")[0]["lot"]) == before + 1
    # everything sent again (a station restored from a backup): no second refund, no second restock
    table.parts.conn.execute("UPDATE sync_outbox SET state = 'pending', sent_at = NULL")
    deliver(table, wms, clock)
    outcomes = [o for o in wms.get("/v1/admin/returns/outcomes")["outcomes"] if o["rma_id"] == "RMA-0001"]
    assert len(outcomes) == 1 and outcomes[0]["outcome"] == "refunded"
    assert wms.lot_qty("SKU-007", world.lots("SKU-007")[0]["lot"]) == before + 1
    assert wms.get("/v1/admin/stats").get("returns_refunded") == 1

    record = table.returns.evidence("RMA-0001")
    assert record["outcome"] == "refund" and len(record["evidence_sha256"]) == 64
    assert [s["step"] for s in record["steps"]].count("return_graded") == 2
    assert any(s["step"] == "return_weighed" for s in record["steps"])
    assert all(s.get("sync_state") == "sent" for s in record["steps"] if s["step"] != "return_weighed")
    assert record["outbound"]["record"]["order_id"] == "SO-10009"


def test_a_b_and_a_c_go_to_review_and_an_item_not_in_the_rma_is_refused(table, wms, world, h, clock):
    assert step(table, "receive", code="RMA-0004")["code"] == "return_received"  # the RMA id opens it too
    wrong = step(table, "item", code=h.item(world, "SKU-012"))
    assert wrong["code"] == "return_item_not_in_rma" and wrong["colour"] == "red" and "拒收" in wrong["message_zh"]
    kept = table.parts.conn.execute("SELECT reason FROM rejected_input ORDER BY id DESC LIMIT 1").fetchone()
    assert kept[0] == "return_item_not_in_rma"
    for _ in range(2):
        assert step(table, "item", code=h.item(world, "SKU-015"))["code"] == "return_item_taken"
    extra = step(table, "item", code=h.item(world, "SKU-015"))
    assert extra["code"] == "return_item_extra"
    no_reason = step(table, "grade", payload={"unit": 1, "grade": "B"})
    assert no_reason["code"] == "return_grade_reason" and "signs_of_use" in no_reason["message"]
    b = step(table, "grade", payload={"unit": 1, "grade": "B", "reason": "packaging_opened"})
    assert b["code"] == "return_graded" and b["colour"] == "amber" and "包装已拆" in b["message_zh"]
    c = step(table, "grade", payload={"unit": 2, "grade": "C", "reason": "damaged"})
    assert c["code"] == "return_graded" and c["colour"] == "red"
    assert step(table, "grade", payload={"unit": 3, "grade": "A"})["code"] == "return_no_such_unit"
    assert step(table, "grade", payload={"unit": 1, "grade": "D"})["code"] == "return_bad_grade"
    assert step(table, "weigh", payload={"grams": "221"})["code"] == "return_weight_ok"
    closed = step(table, "close")
    assert closed["code"] == "return_closed_review" and "not every unit grade A" in closed["message"]
    deliver(table, wms, clock)
    rma = wms.rma("RMA-0004")
    assert rma["status"] == "review" and rma["outcome_reasons"] == ["not_all_grade_a"]
    assert rma["restocked"] == [] and rma["grades"] == {"A": 0, "B": 1, "C": 1}


def test_a_unit_that_is_not_the_one_shipped_needs_a_supervisor(table, wms, world, h, clock):
    pack(table, world, h, "SO-10010", serials={"SKU-009": "SW-0001"})
    deliver(table, wms, clock)
    status, made = wms.post("/v1/admin/rmas", {"rma_id": "RMA-T3", "order_id": "SO-10010", "waybill": "RT-T3",
                                               "reason": "defective", "lines": [{"sku": "SKU-009", "qty": 1}]})
    assert status == 200
    assert any(u.get("serial") == "SW-0001" for u in made["rma"]["shipped"]["units"]), made
    refresh(table)
    assert step(table, "scan", code="RT-T3")["code"] == "return_received"
    swapped = step(table, "scan", code=h.item(world, "SKU-009", serial="SW-9999"))
    assert swapped["code"] == "return_not_our_unit" and swapped["colour"] == "red" and "调包" in swapped["message_zh"]
    assert "SW-0001" in swapped["message"] and "序列号" in swapped["message_zh"]
    assert not swapped.get("confirmation_ids")  # nothing recorded until a supervisor decides
    assert step(table, "scan", code=h.item(world, "SKU-009", serial="SW-0001"))["code"] == "return_waiting_badge"
    packer = step(table, "approve", payload={"supervisor_badge": h.BADGES["packer2"],
                                             "supervisor_pin": h.PINS["packer2"], "reason": "customer swap"})
    assert packer["code"] == "return_supervisor_needed"
    wrong_pin = step(table, "approve", payload={"supervisor_badge": h.BADGES["supervisor"], "supervisor_pin": "0000",
                                                "reason": "customer swap"})
    assert wrong_pin["code"] == "bad_login"
    approved = step(table, "approve", payload={"supervisor_badge": h.BADGES["supervisor"],
                                               "supervisor_pin": h.PINS["supervisor"], "reason": "customer swap"})
    assert approved["code"] == "return_item_taken" and approved["status"] == "blocked"
    audit = table.parts.conn.execute("SELECT who, reason FROM audit WHERE action = 'return_swap_accepted'").fetchone()
    assert tuple(audit) == (SUPERVISOR, "customer swap")
    assert step(table, "grade", payload={"unit": 1, "grade": "A"})["code"] == "return_graded_a"
    assert step(table, "weigh", payload={"grams": "140"})["code"] == "return_weight_ok"
    assert step(table, "close")["code"] == "return_closed_review"
    deliver(table, wms, clock)
    rma = wms.rma("RMA-T3")
    assert rma["status"] == "review" and rma["outcome_reasons"] == ["not_the_unit_shipped"]
    assert rma["restocked"] == []  # a unit that is not ours never goes back on the shelf


def test_a_special_item_needs_a_second_person(table, wms, world, h, clock):
    assert step(table, "scan", code="RT-YTO-0003")["code"] == "return_received"
    held = step(table, "scan", code=h.item(world, "SKU-008"))
    assert held["code"] == "return_second_badge" and held["colour"] == "amber"
    same = step(table, "second", payload={"badge": h.BADGES["packer"], "pin": h.PINS["packer"]})
    assert same["code"] == "return_second_same_person"
    taken = step(table, "second", payload={"badge": h.BADGES["packer2"], "pin": h.PINS["packer2"]})
    assert taken["code"] == "return_item_taken"
    [row] = h.outbox_rows(table, "action = 'return_item'")
    assert row["body"]["payload"]["second_by"] == PACKER2


def test_a_weight_gap_is_flagged_and_sends_the_return_to_review(table, wms, world, h, clock):
    assert step(table, "scan", code="RT-YTO-0002")["code"] == "return_received"
    assert step(table, "scan", code=h.item(world, "SKU-012"))["code"] == "return_item_taken"
    assert step(table, "grade", payload={"unit": 1, "grade": "A"})["code"] == "return_graded_a"
    gap = step(table, "weigh", payload={"grams": "150"})  # a 350 g mug: a brick would weigh more, this is light
    assert gap["code"] == "return_weight_gap" and gap["colour"] == "red" and "-200" in gap["message"]
    closed = step(table, "close")
    assert closed["code"] == "return_closed_review" and "weight gap" in closed["message"]
    [close] = h.outbox_rows(table, "action = 'return_closed'")
    assert close["body"]["payload"]["weight"]["flagged"] is True
    deliver(table, wms, clock)
    assert wms.rma("RMA-0002")["outcome_reasons"] == ["weight_gap"]


def test_a_return_processed_offline_is_synced_after(tmp_path, clock, world, h):
    db = tmp_path / "wms.db"
    url, stop = start_in_thread("127.0.0.1", 0, db, seed_demo=True, today=clock.now().date())
    factory = StationFactory(tmp_path, url, clock)
    station = factory()  # the RMAs came with the reference data
    stop()  # the WMS goes away
    try:
        assert step(station, "scan", code="RT-YTO-0002")["code"] == "return_received"
        assert step(station, "scan", code=h.item(world, "SKU-012"))["code"] == "return_item_taken"
        assert step(station, "grade", payload={"unit": 1, "grade": "A"})["code"] == "return_graded_a"
        assert step(station, "weigh", payload={"grams": "352"})["code"] == "return_weight_ok"
        assert step(station, "close")["code"] == "return_closed_refund"
        pending = station.parts.conn.execute("SELECT COUNT(*) FROM sync_outbox WHERE state = 'pending' AND"
                                             " object_type = 'rma'").fetchone()[0]
        assert pending == 4
        url2, stop2 = start_in_thread("127.0.0.1", 0, db, seed_demo=False, today=clock.now().date())
        client = UpstreamClient(url2, deadline_s=5, clock=clock)
        try:
            assert OutboxWorker(factory.db_path, client, clock).drain() >= 4
            rma = json.loads(client.http.request("GET", "/v1/admin/rmas/RMA-0002").body)["rma"]
            assert rma["status"] == "refunded"
        finally:
            client.close()
            stop2()
    finally:
        factory.close()


def test_refusals_record_nothing_and_bad_input_is_named(table, h, world):
    assert step(table, "scan", code="RT-NOPE")["code"] == "return_unknown"
    assert step(table, "item", code=h.item(world, "SKU-012"))["code"] == "return_none_open"
    bad = step(table, "bogus")
    assert bad["code"] == "return_bad_request" and "action" in bad["message"] and bad["message_zh"]
    assert step(table, "receive", code="x" * 500)["code"] == "return_bad_request"
    assert table.returns.handle({"action": "receive", "code": "RT-SF-0001"}, None)["code"] == "return_not_signed_in"
    assert step(table, "scan", code="RT-SF-0001")["code"] == "return_received"
    assert step(table, "weigh", payload={"grams": "abc"})["code"] == "return_bad_request"
    assert step(table, "weigh", payload={"grams": "10"})["code"] == "return_weigh_after_items"
    assert step(table, "close")["code"] == "return_close_empty"
    other = table.returns.handle({"action": "scan", "code": "RT-SF-0001"}, "E002", "pda:E002", "pda-1")
    assert other["code"] == "return_elsewhere"
    assert h.count(table, "sync_outbox") == 1  # only the receipt


def test_the_returns_api_over_http(table, h, world):
    from packgate.station.web.app import create_app

    client = create_app(table, secret_key=b"k" * 32).test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    refused = client.post("/api/v1/returns", json={"action": "scan", "code": "RT-SF-0001"}, headers=headers)
    assert refused.status_code == 401 and refused.get_json()["message_zh"]
    login = client.post("/api/v1/pda/login", json={"badge": h.BADGES["picker"], "pin": h.PINS["picker"]},
                        headers=headers).get_json()
    headers = {"X-CSRF-Token": login["csrf_token"]}
    got = client.post("/api/v1/returns", json={"action": "scan", "code": "RT-SF-0001"}, headers=headers).get_json()
    assert got["code"] == "return_received"
    state = client.get("/api/v1/returns").get_json()
    assert state["rma"]["rma_id"] == "RMA-0001" and state["terminal"] == "pda:E004" and state["operator"] == "E004"
    assert client.post("/api/v1/returns/mode", json={"mode": "returns"}, headers=headers).get_json() == \
        {"mode": "returns"}
    assert client.post("/api/v1/returns/mode", json={"mode": "x"}, headers=headers).status_code == 400
    assert client.get("/api/v1/returns/RMA-0001/evidence").get_json()["state"] == "open"
    assert client.get("/api/v1/returns/NOPE/evidence").status_code == 404
    assert client.get("/returns").status_code == 200


def test_the_kiosk_scanner_follows_returns_mode(table, h, world):
    from packgate.device.scanner.barcode import interpret

    h.sign_in(table)
    table.returns.set_mode("returns")
    shown = table.on_scan(interpret("RT-YTO-0002", table.parts.patterns), "ST01-scanner")
    assert shown["code"] == "return_received" and table.verdict["code"] == "return_received"
    item = table.on_scan(interpret(h.item(world, "SKU-012"), table.parts.patterns), "ST01-scanner")
    assert item["code"] == "return_item_taken"
    table.returns.set_mode("pack")
    assert table.on_scan(interpret("SO-10001", table.parts.patterns), "ST01-scanner")["code"] == "order_opened"


def test_the_wms_validates_an_rma(wms):
    assert wms.post("/v1/admin/rmas", {"rma_id": "R1", "order_id": "SO-99999", "waybill": "W1",
                                       "reason": "x"})[0] == 404
    status, body = wms.post("/v1/admin/rmas", {"rma_id": "R1", "order_id": "SO-10001", "waybill": "W1",
                                               "reason": "x", "lines": [{"sku": "SKU-001", "qty": 9}]})
    assert status == 422 and "ordered 2" in body["error"]
    assert wms.post("/v1/admin/rmas", {"rma_id": "", "order_id": "SO-10001", "waybill": "W1",
                                       "reason": "x"})[0] == 400
    assert wms.post("/v1/admin/rmas", {"rma_id": "R2", "order_id": "SO-10001", "waybill": "RT-SF-0001",
                                       "reason": "x"})[0] == 409  # another RMA's waybill
    ok, made = wms.post("/v1/admin/rmas", {"rma_id": "R3", "order_id": "SO-10001", "waybill": "W3",
                                           "reason": "size_too_small"})
    assert ok == 200 and made["rma"]["lines"] == [{"sku": "SKU-001", "qty": 2}, {"sku": "SKU-013", "qty": 1}]
    assert {r["rma_id"] for r in wms.get("/v1/admin/rmas?status=announced")["rmas"]} >= {"RMA-0001", "R3"}


def test_a_grade_carries_the_cameras_photo_and_the_return_exports_like_a_parcel(tmp_path, wms, clock, world, h):
    from click.testing import CliRunner

    from packgate.device.camera.emulator import render_frame
    from packgate.device.camera.reader import CameraScanner
    from packgate.station.runtime.cli import cli

    camera = CameraScanner(str(tmp_path / "none.avi"), snapshot_dir=tmp_path / "photos")
    camera.process_frame(render_frame([("code128", "RT-YTO-0002")]), 0.0)  # the last frame the camera saw
    factory = StationFactory(tmp_path, wms.url, clock)
    station = factory(camera=camera)
    try:
        assert step(station, "scan", code="RT-YTO-0002")["code"] == "return_received"
        assert step(station, "scan", code=h.item(world, "SKU-012"))["code"] == "return_item_taken"
        assert step(station, "grade", payload={"unit": 1, "grade": "C", "reason": "damaged"})["code"] == "return_graded"
        [graded] = h.outbox_rows(station, "action = 'return_graded'")
        photo = graded["body"]["image_sha256"]
        assert photo and len(photo) == 64
        assert step(station, "weigh", payload={"grams": "350"})["code"] == "return_weight_ok"
        assert step(station, "close")["code"] == "return_closed_review"
        out = tmp_path / "bundle"
        result = CliRunner().invoke(cli, ["evidence", "export", "RMA-0002", "--to", str(out), "--db", factory.db_path,
                                          "--media", str(tmp_path / "photos"),
                                          "--badge", "04D2E8F1A2B390", "--pin", "9876"])  # a supervisor's, required
        assert result.exit_code == 0, result.output
        doc = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
        assert doc["kind"] == "return" and doc["media"]["photos"] == [photo] and doc["media_missing"] == []
        assert doc["units"][0]["grade"] == "C" and doc["weighing"]["measured_g"] == "350.0"
        assert len(doc["evidence_sha256"]) == 64 and doc["outcome"] == "review"
        assert (out / doc["media_files"][0]).exists()
    finally:
        factory.close()


def test_the_second_person_taps_the_tables_reader_in_returns_mode(table, h, world):
    h.sign_in(table)
    table.returns.set_mode("returns")
    assert step(table, "scan", code="RT-YTO-0003")["code"] == "return_received"
    assert step(table, "scan", code=h.item(world, "SKU-008"))["code"] == "return_second_badge"
    taken = table.on_badge(h.BADGES["packer2"], "ST01-badge")
    assert taken["code"] == "return_item_taken" and table.pack.operator.employee_id == PACKER  # still signed in
    [row] = h.outbox_rows(table, "action = 'return_item'")
    assert row["body"]["payload"]["second_by"] == PACKER2
