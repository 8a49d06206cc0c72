"""The supervisor overview: milestones with durations, blocked parcels, expiring lots, masking, audit."""
from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from packgate.sync.upstream import demo_data


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def test_milestones_carry_timestamps_and_stage_durations(station, clock, world, h):
    h.pick_order(station, world, "SO-10009")
    clock.advance(60)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    clock.advance(30.5)
    assert station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009"))}})["code"] == \
        "weight_ok"
    clock.advance(10)
    assert station.handle({"action": "pack"})["code"] == "packed"
    row = next(r for r in station.supervisor_overview()["milestones"] if r["order_id"] == "SO-10009")
    assert row["status"] == "packed" and row["station"] == "ST01" and row["waiting"] is None
    assert row["picked_at"] == "2026-01-05T08:00:00.000+08:00"
    assert row["verified_at"] == "2026-01-05T08:01:00.000+08:00"
    assert row["weighed_at"] == "2026-01-05T08:01:30.500+08:00"
    assert row["packed_at"] == "2026-01-05T08:01:40.500+08:00"
    assert row["durations_s"] == {"verified": 60.0, "weighed": 30.5, "packed": 10.0}
    assert row["synced_at"] is None  # nothing has reached upstream (no worker in this test)


def test_synced_milestone_once_every_confirmation_of_the_order_is_sent(station, clock, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009"))}})
    station.handle({"action": "pack"})
    station.parts.conn.execute("UPDATE sync_outbox SET state = 'sent', sent_at = '2026-01-05T08:00:03.000+08:00' "
                          "WHERE object_id = 'SO-10009'")
    row = next(r for r in station.supervisor_overview()["milestones"] if r["order_id"] == "SO-10009")
    assert row["synced_at"] == "2026-01-05T08:00:03.000+08:00"


def test_where_orders_wait_and_blocked_parcels(station, clock, world, h):
    h.pick_order(station, world, "SO-10012")
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10011")
    expected = world.expected_g("SO-10011")
    blocked = station.handle({"action": "weigh", "payload": {"grams": str(expected + 150)}})
    assert blocked["code"] == "weight_out_of_tolerance"
    clock.advance(7 * 60)
    overview = station.supervisor_overview()
    assert overview["blocked"] == [{"order_id": "SO-10011", "at": "2026-01-05T08:00:00.000+08:00",
                                    "reason": blocked["message"]}]
    waiting = {r["order_id"]: r["waiting"] for r in overview["milestones"]}
    assert waiting["SO-10012"] == {"en": "7 minutes in picked", "zh": "已拣货已7分钟"}  # per language (Babel)
    assert waiting["SO-10011"]["en"] == "7 minutes in blocked" and waiting["SO-10011"]["zh"] == "被拦截已7分钟"
    [st] = overview["stations"]
    assert (st["id"], st["operator"], st["order"], st["state"]) == ("ST01", "Li Wei", "SO-10011", "blocked")
    assert st["depth"] == len(h.outbox_rows(station))


def test_expiring_lots_come_from_all_lots_in_the_cache(station, world):
    today = date(2026, 1, 5)
    wanted = sorted((l for l in world.reference["lots"]
                     if l["expires"] and l["qty"] > 0 and (date.fromisoformat(l["expires"]) - today).days <= 90),
                    key=lambda l: (l["expires"], l["sku"], l["lot"]))
    assert len(wanted) >= 5  # the demo data has lots in the window, one of them expired
    lots = station.supervisor_overview()["expiring_lots"]
    assert [(l["sku"], l["lot"], l["bin"], l["expires"]) for l in lots] == \
        [(l["sku"], l["lot"], l["bin"], l["expires"]) for l in wanted]
    honey = next(l for l in lots if l["sku"] == "SKU-005")
    assert honey["days_left"] == -3


def test_expiry_window_follows_the_configuration(make_station):
    station = make_station(overrides={"lots.expiry_warning_days": 30})
    assert {l["sku"] for l in station.supervisor_overview()["expiring_lots"]} == {"SKU-005", "SKU-011", "SKU-024"}


@pytest.mark.parametrize("viewer", [None, "E001", "E004"])
def test_phones_are_masked_and_badges_hidden_for_non_supervisors(station, viewer):
    overview = station.supervisor_overview(viewer=viewer)
    employees = {e["employee_id"]: e for e in overview["employees"]}
    assert set(employees) == {e[0] for e in demo_data.EMPLOYEES}
    for emp_id, _name, _badge, _role, _pin, phone in demo_data.EMPLOYEES:
        shown = employees[emp_id]["phone"]
        digits = [c for c in phone if c.isdigit()]
        assert shown == "*" * (len(digits) - 4) + "".join(digits[-4:]), shown
        assert "badge_uid" not in employees[emp_id]
    text = json.dumps({k: v for k, v in overview.items() if k != "viewer"})  # the viewer may see their own badge
    assert "pin" not in _keys(overview)
    for _emp, _name, badge, _role, _pin, phone in demo_data.EMPLOYEES:
        assert badge not in text and phone not in text


def test_a_supervisor_sees_phones_in_clear_but_never_a_pin(station):
    overview = station.supervisor_overview(viewer="E005")
    assert overview["viewer"]["role"] == "supervisor" and overview["viewer"]["phone"] == "+91 98765 43210"
    employees = {e["employee_id"]: e for e in overview["employees"]}
    assert employees["E001"]["phone"] == "+86 138 0013 8000"
    assert "pin" not in _keys(overview)


def test_overrides_are_audited_with_who_before_after_and_reason(station, world, h):
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10001"})
    assert station.handle({"action": "scan", "object_id": h.item(world, "SKU-001", -1)})["code"] == "fifo_older_lot"
    station.handle({"action": "override", "payload": {"reason": "older lot damaged"}})
    assert station.on_badge(h.BADGES["supervisor"], "ST01-badge")["code"] == "lot_overridden"  # a tap on the reader
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-001")})
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-013")})
    expected = world.expected_g("SO-10001")
    station.handle({"action": "weigh", "payload": {"grams": str(expected + 300)}})
    answer = station.handle({"action": "override", "payload": {"reason": "extra flyer inside",
                                                               "supervisor_badge": h.BADGES["supervisor"],
                                                               "supervisor_pin": h.PINS["supervisor"]}})
    assert answer["code"] == "weight_overridden"

    audit = station.supervisor_overview()["audit"]
    weight, lot = audit[0], audit[1]
    assert (weight["who"], weight["action"], weight["object_id"], weight["reason"]) == \
        ("E005", "weight_override", "SO-10001", "extra flyer inside")
    assert weight["before"]["state"] == "blocked" and weight["after"]["state"] == "weighed_ok"
    assert weight["before"]["weight"]["measured_g"] == f"{expected + 300:.1f}"
    assert weight["at"] == "2026-01-05T08:00:00.000+08:00"
    newest = world.lots("SKU-001")[-1]["lot"]
    assert (lot["who"], lot["action"], lot["reason"]) == ("E005", "lot_override", "older lot damaged")
    assert lot["before"]["suggested_lot"] == world.lots("SKU-001")[0]["lot"] and lot["after"]["lot"] == newest
    overrides = [r["body"] for r in h.outbox_rows(station, "action = 'override'")]
    assert [o["payload"]["kind"] for o in overrides] == ["lot", "weight"]
    assert all(o["operator"] == "E005" and o["payload"]["packer"] == "E001" for o in overrides)


def test_the_audit_log_is_append_only(station, world, h):
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10001"})
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-001", -1)})
    station.handle({"action": "fifo_take_older"})
    [entry] = station.supervisor_overview()["audit"]
    for sql in ("UPDATE audit SET who = 'nobody'", "UPDATE audit SET reason = NULL WHERE id = 1",
                "DELETE FROM audit", f"DELETE FROM audit WHERE id = {entry['id']}"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            station.parts.conn.execute(sql)
    assert station.supervisor_overview()["audit"] == [entry]


def test_a_bad_barcode_is_kept_for_review_in_the_overview(station, h):
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10009"})
    answer = station.handle({"action": "scan", "object_id": "0107032069804989\x1d10LOT"})  # wrong check digit
    assert answer["code"] == "bad_barcode" and "<GS>" in answer["message"]
    [row] = station.supervisor_overview()["rejected_input"]
    assert row["raw"] == "0107032069804989\x1d10LOT" and "check digit" in row["reason"].lower()
