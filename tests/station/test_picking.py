"""Pick lists in bin order and the pick-session state machine."""
from dataclasses import replace

import pytest
from station_core_data import PICKER, SUPERVISOR, TODAY, catalog

from packgate.station.core.effects import AuditEntry, Confirmation
from packgate.station.core.lots import bin_sort_key
from packgate.station.core.models import Order
from packgate.station.core.packing import FifoOverride, FifoTakeOlder, PutBack, ScanItem
from packgate.station.core.picking import PickContext, PickSession, PickState, ScanBin, ScanTote, pick_list, pick_step, start_pick

CAT = catalog()
CTX = PickContext(catalog=CAT, today=TODAY)
PICKER_E = CAT.employee_by_badge(PICKER)


def order(lines, tote="T-9", status="open"):
    return Order.from_dict({"order_id": "SO-P", "tote": tote, "packaging": None, "status": status, "lines": lines})


def run(session, *events, ctx=CTX):
    effects, verdict = [], None
    for event in events:
        session, verdict, new = pick_step(session, event, ctx)
        assert verdict.status != "error", verdict.message
        effects += new
    return session, verdict, effects


def refused(session, event, code, ctx=CTX):
    new, verdict, effects = pick_step(session, event, ctx)
    assert verdict.code == code and verdict.status == "error", verdict.message
    assert new == session and effects == []
    return verdict


@pytest.mark.parametrize("codes, expected", [
    (["A-10-1", "A-2-1", "A-2-10", "A-2-2", None, "B-1"], ["A-2-1", "A-2-2", "A-2-10", "A-10-1", "B-1", None]),
])
def test_bins_sort_naturally(codes, expected):
    assert sorted(codes, key=bin_sort_key) == expected


def test_pick_list_allocates_by_policy_and_sorts_by_bin():
    plan = pick_list(order([{"sku": "SKU-001", "qty": 5}, {"sku": "SKU-002", "qty": 5}]), CAT, TODAY)
    assert [(t.bin, t.sku, t.lot, t.qty) for t in plan.tasks] == [
        ("A-01-02", "SKU-001", "L20251103", 2),   # oldest production date first (expired A-01-01 skipped)
        ("A-01-03", "SKU-001", "L20251217", 3),
        ("C-2-1", "SKU-002", "N-JUN", 1),         # FEFO: N-MAR (4) then N-JUN
        ("C-10-1", "SKU-002", "N-MAR", 4),        # ... walked in natural bin order
    ]
    assert plan.shortages == ()


def test_pick_list_reports_shortages():
    plan = pick_list(order([{"sku": "SKU-001", "qty": 20}, {"sku": "SKU-999", "qty": 1}]), CAT, TODAY)
    assert [(s.sku, s.missing) for s in plan.shortages] == [("SKU-001", 3), ("SKU-999", 1)]
    session, verdict, _ = start_pick(order([{"sku": "SKU-001", "qty": 20}]), PICKER_E, CTX)
    assert session is None and verdict.code == "stock_short" and verdict.data["missing"] == 3


@pytest.mark.parametrize("status", ["packed", "cancelled", "picked"])
def test_orders_that_cannot_be_picked(status):
    session, verdict, _ = start_pick(order([{"sku": "SKU-001", "qty": 1}], status=status), PICKER_E, CTX)
    assert session is None and verdict.code == "order_not_pickable"


def test_full_pick_confirms_each_line_and_the_tote():
    session, v, _ = start_pick(order([{"sku": "SKU-001", "qty": 3}, {"sku": "SKU-003", "qty": 1}]), PICKER_E, CTX)
    assert v.code == "pick_started" and v.data["bin"] == "A-01-02" and session.state is PickState.TO_BIN
    s, v, _ = run(session, ScanBin("A-01-02"))
    assert s.state is PickState.AT_BIN and v.code == "bin_ok" and v.data["qty"] == 2 and v.data["lot"] == "L20251103"
    s, v, _ = run(s, ScanItem("07032069804988", lot="L20251103"))
    assert v.code == "item_picked" and s.state is PickState.AT_BIN
    s, v, _ = run(s, ScanItem("SKU-001", lot="L20251103"))
    assert v.code == "go_to_bin" and v.data["bin"] == "A-01-03" and s.state is PickState.TO_BIN
    s, v, _ = run(s, ScanBin("A-01-03"), ScanItem("SKU-001", lot="L20251217"), ScanBin("E-01-01"), ScanItem("SKU-003"))
    assert v.code == "pick_complete" and s.state is PickState.TO_TOTE and v.data["tote"] == "T-9"
    refused(s, ScanTote("T-1"), "wrong_tote")
    s, v, effects = run(s, ScanTote("T-9"))
    assert s.state is PickState.PICKED and v.code == "order_picked"
    assert [(c.action, c.object_type, c.object_id, c.location) for c in effects] == [
        ("pick", "order", "SO-P", "A-01-02"), ("pick", "order", "SO-P", "A-01-03"),
        ("pick", "order", "SO-P", "E-01-01"), ("tote_load", "tote", "T-9", None)]
    assert [(c.payload["sku"], c.payload["lot"], c.payload["qty"]) for c in effects[:3]] == [
        ("SKU-001", "L20251103", 2), ("SKU-001", "L20251217", 1), ("SKU-003", None, 1)]
    assert all(c.operator == "E004" for c in effects)
    refused(s, ScanBin("A-01-02"), "not_allowed_now")


def test_wrong_bin_is_refused_naming_the_right_one():
    session = start_pick(order([{"sku": "SKU-001", "qty": 1}]), PICKER_E, CTX).session
    v = refused(session, ScanBin("B-02-01"), "wrong_bin")
    assert v.data == {"bin": "B-02-01", "expected_bin": "A-01-02"} and "A-01-02" in v.message
    refused(session, ScanItem("SKU-001", lot="L20251103"), "not_allowed_now")


def test_wrong_item_and_over_quantity_at_a_bin():
    session = run(start_pick(order([{"sku": "SKU-001", "qty": 1}, {"sku": "SKU-003", "qty": 1}]), PICKER_E, CTX).session,
                  ScanBin("A-01-02"))[0]
    v = refused(session, ScanItem("SKU-003"), "wrong_item")
    assert v.data["expected_sku"] == "SKU-001"
    refused(session, ScanItem("SKU-002", lot="N-MAR"), "pick_not_in_order")
    refused(session, ScanItem("SKU-001", lot="L20250801"), "lot_expired")
    done = run(session, ScanItem("SKU-001", lot="L20251103"), ScanBin("E-01-01"))[0]
    refused(done, ScanItem("SKU-001", lot="L20251103"), "over_quantity")


def test_fifo_prompt_while_picking():
    session = run(start_pick(order([{"sku": "SKU-001", "qty": 1}]), PICKER_E, CTX).session, ScanBin("A-01-02"))[0]
    s, v, effects = pick_step(session, ScanItem("SKU-001", lot="L20260129"), CTX)
    assert s.state is PickState.AWAITING_FIFO_DECISION and v.code == "fifo_older_lot" and effects == []
    assert v.data["older_bin"] == "A-01-02"
    swapped, v, effects = run(s, FifoTakeOlder())
    assert swapped.state is PickState.AT_BIN and isinstance(effects[0], AuditEntry) and effects[0].action == "lot_swap"
    assert run(s, PutBack())[0].state is PickState.AT_BIN
    refused(s, FifoOverride(PICKER, "hurry"), "override_not_supervisor")
    s, v, effects = run(s, FifoOverride(SUPERVISOR, "older lot blocked"))
    assert s.state is PickState.TO_TOTE and v.code == "lot_overridden" and v.next == "scan_tote"
    assert [type(e) for e in effects] == [AuditEntry, Confirmation] and effects[1].operator == "E003"
    s, v, effects = run(s, ScanTote("T-9"))
    assert effects[0].payload["approved_by"] == ["E003"]


def test_order_without_tote_takes_any_tote():
    session = start_pick(order([{"sku": "SKU-003", "qty": 1}], tote=None), PICKER_E, CTX).session
    s, v, effects = run(session, ScanBin("E-01-01"), ScanItem("SKU-003"), ScanTote("T-77"))
    assert s.state is PickState.PICKED and effects[-1].object_id == "T-77"


def test_pick_roles():
    ctx = replace(CTX, pick_roles=frozenset())
    assert start_pick(order([{"sku": "SKU-003", "qty": 1}]), PICKER_E, ctx).verdict.code == "role_not_allowed"


def test_pick_session_round_trips_through_a_dict():
    import json
    session = start_pick(order([{"sku": "SKU-001", "qty": 3}]), PICKER_E, CTX).session
    for event in (ScanBin("A-01-02"), ScanItem("SKU-001", lot="L20251103"), ScanItem("SKU-001", lot="L20260129")):
        session = pick_step(session, event, CTX).session
        assert PickSession.from_dict(json.loads(json.dumps(session.to_dict()))) == session
    assert session.pending is not None
