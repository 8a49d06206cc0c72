"""Authority needs presence: an override, a lot approval or a second person's confirmation is proven by a tap on
this station's own reader (``Station.on_badge``) within the approval window, or by badge + PIN checked by the
station. A badge code typed into the API or scanned into the scan field never authorises anything."""
from __future__ import annotations

import json

READER = "ST01-badge"


def _blocked(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10011")
    blocked = station.handle({"action": "weigh", "payload": {"grams": "1100"}})
    assert blocked["code"] == "weight_out_of_tolerance", blocked
    return blocked


def _overrides(station, h) -> int:
    return len(h.outbox_rows(station, "action = 'override'"))


def test_an_override_naming_a_supervisor_badge_as_text_is_refused(station, world, h):
    _blocked(station, world, h)
    answer = station.handle({"action": "override", "payload": {"reason": "looks fine",
                                                               "supervisor_badge": "04d2:e8:f1:a2:b3:90"}})
    assert answer["code"] == "presence_required" and answer["status"] == "error"
    assert station.pack.state.value == "blocked" and _overrides(station, h) == 0


def test_a_badge_code_scanned_into_the_scan_field_does_not_approve(station, world, h):
    _blocked(station, world, h)
    station.handle({"action": "override", "payload": {"reason": "looks fine"}})
    answer = station.handle({"action": "scan", "object_id": f"BADGE:{h.BADGES['supervisor']}"})
    assert answer["code"] == "presence_required"
    assert station.handle({"action": "badge", "object_id": h.BADGES["supervisor"]})["code"] == "presence_required"
    assert station.pack.state.value == "blocked" and _overrides(station, h) == 0


def test_a_tap_on_the_station_reader_within_the_window_approves(station, world, h):
    _blocked(station, world, h)
    station.handle({"action": "override", "payload": {"reason": "extra flyer"}})
    answer = station.on_badge(h.BADGES["supervisor"], READER)
    assert answer["code"] == "weight_overridden" and _overrides(station, h) == 1


def test_a_tap_after_the_approval_window_does_not_approve(station, world, h, clock):
    _blocked(station, world, h)
    station.handle({"action": "override", "payload": {"reason": "extra flyer"}})
    clock.advance(61)
    answer = station.on_badge(h.BADGES["supervisor"], READER)
    assert answer["code"] == "override_reason_required" and _overrides(station, h) == 0


def test_badge_and_pin_checked_by_the_station_approve_and_a_wrong_pin_is_audited(station, world, h):
    _blocked(station, world, h)
    body = {"action": "override", "payload": {"reason": "catalog weight wrong", "supervisor_badge": h.BADGES["supervisor"],
                                              "supervisor_pin": "0000"}}
    assert station.handle(body)["code"] == "bad_login"
    audit = station.supervisor_overview()["audit"]
    assert audit[0]["action"] == "pin_failed" and audit[0]["object_id"] == "E005"
    body["payload"]["supervisor_pin"] = h.PINS["supervisor"]
    assert station.handle(body)["code"] == "weight_overridden" and _overrides(station, h) == 1


def test_a_second_badge_for_a_special_item_needs_a_tap(station, world, h):
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10002"})
    assert station.handle({"action": "scan", "object_id": h.item(world, "SKU-008")})["code"] == "second_badge_required"
    assert station.handle({"action": "badge", "object_id": h.BADGES["packer2"]})["code"] == "presence_required"
    assert station.pack.state.value == "awaiting_second_badge"
    assert station.on_badge(h.BADGES["packer2"], READER)["status"] == "ok"
    assert station.pack.state.value != "awaiting_second_badge"


def test_a_lot_approval_on_the_pda_needs_the_supervisors_pin(station, world, h):
    base = {"terminal": "pda", "operator": "E004", "device": "pda-1"}
    start = station.handle({**base, "action": "pick", "object_type": "order", "object_id": "SO-10001"})
    task = start["data"]["pick"]["tasks"][0]
    station.handle({**base, "action": "scan", "object_id": task["bin"]})
    assert station.handle({**base, "action": "scan", "object_id": h.item(world, task["sku"], -1)})["code"] == "fifo_older_lot"
    typed = {**base, "action": "override", "payload": {"reason": "older lot damaged", "supervisor_badge": h.BADGES["supervisor"]}}
    assert station.handle(typed)["code"] == "presence_required"
    typed["payload"]["supervisor_pin"] = h.PINS["supervisor"]
    assert station.handle(typed)["code"] == "lot_overridden"


def test_typed_badges_sign_in_only_where_the_site_allows_it(make_station, h):
    station = make_station(overrides={"badge.typed_sign_in": False})
    assert station.handle({"action": "badge", "object_id": h.BADGES["packer"]})["code"] == "typed_badge_sign_in_off"
    assert station.on_badge(h.BADGES["packer"], READER)["code"] == "signed_in"


def test_a_supervisor_cannot_take_over_the_table_by_a_typed_badge(station, h):
    h.sign_in(station)
    assert station.handle({"action": "badge", "object_id": h.BADGES["supervisor"]})["code"] == "presence_required"
    assert station.on_badge(h.BADGES["supervisor"], READER)["code"] == "taken_over"


def test_pin_lockout_counts_per_employee_whatever_form_the_badge_takes(station, h):
    forms = ["5E:7D:10:B4", "5e7d10b4:", "E004", " 5E7D10B4 ", "5E-7D-10-B4"]
    for form in forms:
        assert station.pda_login(form, "0000")["code"] == "bad_login"
    assert station.pda_login("5E7D10B4", h.PINS["picker"])["code"] == "login_locked"
    assert station.pda_login("E004", h.PINS["picker"])["code"] == "login_locked"
    failed = [a for a in station.supervisor_overview()["audit"] if a["action"] == "pin_failed"]
    assert len(failed) == 5 and {a["object_id"] for a in failed} == {"E004"}


def test_an_ambiguous_badge_is_refused_at_the_table_naming_the_clash(station, h):
    row = {"employee_id": "E099", "name": "Clash", "badge_uid": h.BADGES["packer"], "role": "supervisor"}
    station.parts.conn.execute("INSERT INTO ref_employees (employee_id, badge_uid, data) VALUES (?, ?, ?)",
                               ("E099", h.BADGES["packer"], json.dumps(row)))
    answer = station.on_badge(h.BADGES["packer"], READER)
    assert answer["code"] == "ambiguous_reference" and "E001 and E099" in answer["message"]
    assert station.pack.operator is None
    assert station.supervisor_overview()["reference_problems"]["ambiguous"][0]["kind"] == "badge"
