"""The pack-session state machine, event by event, with the effects it asks to record."""
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from station_core_data import PACKER, PACKER2, PICKER, SUPERVISOR, SUPERVISOR2, TODAY, UNKNOWN_BADGE, catalog

from packgate.station.core.effects import AuditEntry, Confirmation
from packgate.station.core.models import LotPolicy, Role
from packgate.station.core.packing import (
    TRANSITIONS,
    Badge,
    Cancel,
    ChoosePackaging,
    FifoOverride,
    FifoTakeOlder,
    OpenOrder,
    Pack,
    PackContext,
    PackSession,
    PutBack,
    Reweigh,
    ScanItem,
    SecondBadge,
    SignOut,
    State,
    SupervisorOverride,
    Weigh,
    serial_key,
    should_sign_out,
    step,
)
from packgate.station.core.tolerance import FLOOR_TABLES, ToleranceConfig

CAT = catalog()
CTX = PackContext(catalog=CAT, today=TODAY)
TEA_OLD = ScanItem("07032069804988", lot="L20251103")
TEA_NEW = ScanItem("07032069804988", lot="L20260129")
NOODLES = ScanItem("06901234000021", lot="N-MAR")
EARBUDS = ScanItem("06901234000038", serial="SN-1")


def run(*events, session=None, ctx=CTX):
    """Apply events in order; every one must be accepted (no error). Returns (session, last verdict, all effects)."""
    session = session or PackSession(station="ST01")
    effects, verdict = [], None
    for event in events:
        session, verdict, new = step(session, event, ctx)
        assert verdict.status != "error", verdict.message
        effects += new
    return session, verdict, effects


def refused(session, event, code, ctx=CTX):
    """The event is refused with ``code``: same session, no effects."""
    new, verdict, effects = step(session, event, ctx)
    assert verdict.code == code, verdict.message
    assert verdict.status == "error" and verdict.colour == "red" and verdict.sound == "error"
    assert new == session and effects == []
    return verdict


def open_order(code="SO-10001", ctx=CTX):
    return run(Badge(PACKER), OpenOrder(code), ctx=ctx)[0]


def scanned_10001():
    return run(TEA_OLD, TEA_OLD, NOODLES, session=open_order())[0]


# ---------------------------------------------------------------- happy path


def test_happy_path_records_every_step():
    s, v, effects = run(Badge(PACKER), OpenOrder("T-0001"), TEA_OLD, TEA_OLD, NOODLES)
    assert s.state is State.READY_TO_WEIGH and v.next == "weigh"  # BOX-M preselected from the order
    s, v, more = run(Weigh(D("1230.5"), True), Pack(image_sha256="ab" * 32), session=s)
    effects += more
    assert s.state is State.PACKED and v.code == "packed" and v.colour == "green"
    confs = [e for e in effects if isinstance(e, Confirmation)]
    assert [c.action for c in confs] == ["badge", "scan", "verify", "verify", "verify", "weigh", "pack"]
    assert all(c.operator == "E001" for c in confs)
    assert confs[0].object_type == "employee" and confs[0].payload == {"event": "sign_in"}
    assert confs[1].object_id == "SO-10001" and confs[1].payload["tote"] == "T-0001"
    assert confs[2].payload["lot"] == "L20251103" and confs[2].payload["packed"] == 1
    weigh = confs[5].payload
    assert weigh["result"] == "pass" and weigh["expected_g"] == "1225.0" and weigh["measured_g"] == "1230.5"
    assert confs[6].image_sha256 == "ab" * 32 and len(confs[6].payload["units"]) == 3
    assert not [e for e in effects if isinstance(e, AuditEntry)]


def test_progress_and_states_along_the_way():
    s = open_order()
    assert s.state is State.ORDER_OPEN and s.packaging == "BOX-M"
    s, v, _ = run(TEA_OLD, session=s)
    assert s.state is State.SCANNING and v.code == "item_accepted" and v.data["packed"] == 1
    assert s.progress() == [{"sku": "SKU-001", "ordered": 2, "packed": 1}, {"sku": "SKU-002", "ordered": 1, "packed": 0}]


def test_packaging_must_be_chosen_when_the_order_has_none():
    ctx = replace(CTX, preselect_packaging=False)
    s, v, _ = run(Badge(PACKER), OpenOrder("SO-10001"), TEA_OLD, TEA_OLD, NOODLES, ctx=ctx)
    assert s.state is State.SCANNING and v.next == "choose_packaging"
    refused(s, Weigh(D("1225"), True), "not_allowed_now", ctx)
    s, v, effects = run(ChoosePackaging("BOX-S"), session=s, ctx=ctx)
    assert s.state is State.READY_TO_WEIGH and v.code == "packaging_chosen" and s.packaging == "BOX-S"
    assert effects[0].payload == {"packaging": "BOX-S", "tare_g": "120"}
    refused(s, ChoosePackaging("BOX-XXL"), "unknown_packaging", ctx)


# ---------------------------------------------------------------- badges


def test_unknown_badge_is_refused_and_nothing_is_recorded():
    v = refused(PackSession(), Badge(UNKNOWN_BADGE), "unknown_badge")
    assert "not registered" in v.message and v.data == {}
    refused(open_order(), Badge(UNKNOWN_BADGE), "unknown_badge")


def test_picker_cannot_sign_in_to_a_packing_station():
    refused(PackSession(), Badge(PICKER), "role_not_allowed")


def test_supervisor_can_sign_in():
    assert run(Badge(SUPERVISOR))[0].operator.role is Role.SUPERVISOR


def test_second_tap_of_the_same_badge_signs_out():
    s, v, effects = run(Badge(PACKER), Badge(PACKER))
    assert s == PackSession(station="ST01") and v.code == "signed_out"
    assert effects[-1] == Confirmation("badge", "employee", "E001", {"event": "sign_out", "reason": "badge"}, "E001")


def test_signing_out_mid_order_releases_it_with_an_audit():
    s, v, effects = run(TEA_OLD, SignOut("idle", confirmed=True), session=open_order())
    assert s.state is State.IDLE and s.order is None
    conf, audit, closed = effects[-3:]
    assert conf.payload == {"event": "sign_out", "reason": "idle", "released_order": "SO-10001"}
    assert audit.action == "abandon" and audit.before["units"] == 1 and audit.reason == "sign_out: idle"
    assert (closed.action, closed.object_id, closed.payload["scope"], closed.payload["abandoned"]) == \
        ("cancel", "SO-10001", "pack_session", True)
    assert [u["sku"] for u in closed.payload["units"]] == ["SKU-001"] and closed.payload["units_scanned"] == 1


def test_tapping_your_own_badge_with_counted_units_asks_first_and_the_second_tap_decides():
    s, v, effects = run(TEA_OLD, Badge(PACKER), session=open_order())
    assert s.state is State.SCANNING and s.abandon_asked and v.code == "abandon_confirm" and v.status == "prompt"
    assert [e.action for e in effects] == ["verify"] and len(s.units) == 1 and "1 counted" in v.message
    s2, v2, effects2 = step(s, Badge(PACKER), CTX)
    assert s2.state is State.IDLE and v2.code == "signed_out"
    assert [e.action for e in effects2] == ["badge", "abandon", "cancel"]


def test_going_on_after_the_question_closes_it():
    s = run(TEA_OLD, SignOut(), session=open_order())[0]
    assert s.abandon_asked
    s = run(TEA_OLD, session=s)[0]  # the packer scanned the next item instead
    assert not s.abandon_asked and s.state is not State.IDLE
    assert run(SignOut(), session=s)[1].code == "abandon_confirm"  # asked again


def test_signing_out_without_counted_units_does_not_ask():
    s, v, _ = run(Badge(PACKER), session=open_order())
    assert s.state is State.IDLE and v.code == "signed_out"


def test_stop_and_cancel_are_different_actions_with_different_words():
    stopped = run(Cancel("Item missing / damaged"), session=open_order())
    cancelled = run(Cancel("Customer cancelled", scope="order", approved_by="E005"), session=open_order())
    assert stopped[1].code == "cancelled" and "back in the queue" in stopped[1].message
    assert cancelled[1].code == "order_cancelled" and "queue" not in cancelled[1].message
    assert "will not be packed" in cancelled[1].message
    assert cancelled[2][-1].payload["scope"] == "order" and stopped[2][-1].payload["scope"] == "pack_session"
    assert cancelled[2][0].action == "order_cancel" and stopped[2][0].action == "cancel"
    assert cancelled[2][0].who == "E005" and cancelled[2][-1].payload["approved_by"] == "E005"


def test_cancelling_the_whole_order_needs_a_supervisor():
    asked = run(Cancel("Customer cancelled", scope="order"), session=open_order())
    assert asked[1].code == "order_cancel_needs_supervisor" and asked[1].status == "review"
    assert asked[0] == open_order() and asked[2] == []


def test_another_badge_while_in_use_is_refused():
    v = refused(open_order(), Badge(PACKER2), "badge_in_use")
    taken, verdict, effects = step(open_order(), Badge(SUPERVISOR), CTX)
    assert verdict.code == "taken_over" and taken.operator.role is Role.SUPERVISOR
    assert taken.order == open_order().order and taken.state is State.ORDER_OPEN
    [audit] = [e for e in effects if isinstance(e, AuditEntry)]
    assert audit.action == "sign_in_as_other" and audit.before == {"operator": open_order().operator.employee_id}
    assert "Li Wei" in v.message


@pytest.mark.parametrize("last, now, idle_s, out", [
    (0, 899.999, 900, False), (0, 900, 900, True), (0, 1000, 900, True), (None, 10_000, 900, False)])
def test_should_sign_out(last, now, idle_s, out):
    base = datetime(2026, 2, 10, 8, tzinfo=timezone(timedelta(hours=8)))
    last_at = None if last is None else base + timedelta(seconds=last)
    assert should_sign_out(last_at, base + timedelta(seconds=now), idle_s) is out


# ---------------------------------------------------------------- orders and items


def test_order_refusals():
    s = run(Badge(PACKER))[0]
    refused(s, OpenOrder("SO-99999"), "unknown_order")
    v = refused(s, OpenOrder("SO-10004"), "order_not_packable")
    assert "packed" in v.message
    opened = open_order()
    refused(opened, OpenOrder("SO-10002"), "order_already_open")
    again, v, effects = step(opened, OpenOrder("SO-10001"), CTX)
    assert again == opened and v.code == "order_opened" and effects == []


def test_item_not_in_order_is_refused():
    v = refused(open_order(), ScanItem("SKU-005"), "item_not_in_order")
    assert "SKU-005" in v.message and "SO-10001" in v.message
    refused(open_order(), ScanItem("0000000000000"), "unknown_item")


def test_one_more_than_ordered_is_refused():
    s = run(TEA_OLD, TEA_OLD, session=open_order())[0]
    v = refused(s, TEA_OLD, "over_quantity")
    assert v.data["ordered"] == 2 and "put it back" in v.message
    full = scanned_10001()
    refused(full, NOODLES, "over_quantity")


def test_serial_already_packed_is_refused():
    ctx = replace(CTX, lot_policy=LotPolicy.NONE)  # SKU-005 follows the site default
    s = open_order("SO-10005", ctx=ctx)
    s = run(ScanItem("SKU-005", serial="S1"), session=s, ctx=ctx)[0]
    refused(s, ScanItem("SKU-005", serial="S1"), "serial_already_packed", ctx)
    assert run(ScanItem("SKU-005", serial="S2"), session=s, ctx=ctx)[0].packed_qty("SKU-005") == 2
    ctx = replace(ctx, packed_serials={serial_key("SKU-005", "S9")})
    refused(s, ScanItem("SKU-005", serial="S9"), "serial_already_packed", ctx)
    assert run(ScanItem("SKU-005", serial="S9"), session=s, ctx=replace(ctx, packed_serials=set()))
    assert s.serials == {"SKU-005:S1"}
    refused(open_order("SO-10005"), ScanItem("SKU-005", serial="S1"), "lot_required")  # site default FIFO


def test_expired_lot_is_refused():
    v = refused(open_order(), ScanItem("SKU-001", lot="L20250801"), "lot_expired")
    assert v.next == "scan_item"


def test_lot_required_for_lot_controlled_items():
    refused(open_order(), ScanItem("SKU-001"), "lot_required")
    s, _, _ = run(ScanItem("SKU-001"), session=open_order(ctx=replace(CTX, require_lot=False)),
                  ctx=replace(CTX, require_lot=False))
    assert s.packed_qty("SKU-001") == 1


# ---------------------------------------------------------------- FIFO decisions


def test_newer_lot_prompts_and_taking_the_older_is_a_recorded_lot_swap():
    s, v, effects = step(open_order(), TEA_NEW, CTX)
    assert s.state is State.AWAITING_FIFO_DECISION and v.code == "fifo_older_lot" and effects == []
    assert v.data["older_lot"] == "L20251103" and v.data["older_bin"] == "A-01-02"
    s, v, effects = run(FifoTakeOlder(), session=s)
    assert s.state is State.ORDER_OPEN and s.units == () and v.code == "lot_swap"
    assert effects == [AuditEntry("lot_swap", "E001", {"sku": "SKU-001", "lot": "L20260129"},
                                  {"sku": "SKU-001", "lot": "L20251103", "bin": "A-01-02"}, "fifo_older_lot")]
    refused(s, FifoTakeOlder(), "not_allowed_now")


def test_fifo_override_needs_a_supervisor_and_a_reason():
    s = step(open_order(), TEA_NEW, CTX).session
    v = refused(s, FifoOverride(PACKER2, "ok"), "override_not_supervisor")
    assert v.next == "scan_supervisor_badge"
    refused(s, FifoOverride(UNKNOWN_BADGE, "ok"), "unknown_badge")
    refused(s, FifoOverride(SUPERVISOR, "  "), "override_reason_missing")
    s, v, effects = run(FifoOverride(SUPERVISOR, "older lot damaged"), session=s)
    assert s.state is State.SCANNING and v.code == "lot_overridden" and s.units[0].approved_by == "E003"
    audit, override, verify = effects
    assert audit == AuditEntry("lot_override", "E003", {"sku": "SKU-001", "suggested_lot": "L20251103",
                                                        "suggested_bin": "A-01-02", "code": "fifo_older_lot"},
                               {"sku": "SKU-001", "lot": "L20260129"}, "older lot damaged")
    assert override.action == "override" and override.operator == "E003" and override.payload["packer"] == "E001"
    assert verify.action == "verify" and verify.operator == "E001" and verify.payload["approved_by"] == "E003"


def test_supervisor_tapping_without_a_reason_is_told_to_give_one():
    s = step(open_order(), TEA_NEW, CTX).session
    same, v, effects = step(s, Badge(SUPERVISOR), CTX)
    assert same == s and v.code == "override_reason_required" and v.status == "prompt" and effects == []


def test_put_back_discards_the_pending_unit():
    s = step(open_order(), TEA_NEW, CTX).session
    s, v, effects = run(PutBack(), session=s)
    assert s.state is State.ORDER_OPEN and v.code == "item_put_back" and effects == []


def test_unknown_lot_prompts_and_take_older_is_a_put_back():
    s, v, _ = step(open_order(), ScanItem("SKU-001", lot="L-NEW"), CTX)
    assert s.state is State.AWAITING_FIFO_DECISION and v.code == "lot_unknown"
    assert run(FifoTakeOlder(), session=s)[1].code == "item_put_back"


def test_second_unit_from_the_next_lot_after_the_oldest_is_used_up():
    order = {"order_id": "SO-BIG", "tote": None, "packaging": "BOX-M", "status": "open",
             "lines": [{"sku": "SKU-001", "qty": 3}]}
    from station_core_data import Catalog

    from packgate.station.core.models import Order
    cat = Catalog([CAT.sku("SKU-001")], CAT.lots_for("SKU-001"), [CAT.packaging("BOX-M")],
                  [CAT.employee_by_badge(PACKER)], [Order.from_dict(order)])
    ctx = replace(CTX, catalog=cat)
    s, v, _ = run(Badge(PACKER), OpenOrder("SO-BIG"), TEA_OLD, TEA_OLD, ScanItem("SKU-001", lot="L20251217"), ctx=ctx)
    assert s.state is State.READY_TO_WEIGH  # L20251103 held 2: the third from the next lot is no FIFO violation


# ---------------------------------------------------------------- special items


def test_special_item_needs_a_second_different_person():
    s, v, effects = step(open_order("SO-10002"), EARBUDS, CTX)
    assert s.state is State.AWAITING_SECOND_BADGE and v.code == "second_badge_required" and effects == []
    assert s.units == ()
    v = refused(s, Badge(PACKER), "second_badge_same_person")
    assert "Li Wei" in v.message
    refused(s, SecondBadge(PACKER), "second_badge_same_person")
    refused(s, Badge(PICKER), "second_badge_role")
    refused(s, Badge(UNKNOWN_BADGE), "unknown_badge")
    s2, v, effects = run(Badge(PACKER2), session=s)
    assert s2.state is State.READY_TO_WEIGH and s2.units[0].second_by == "E002"
    assert effects[0].payload["second_by"] == "E002" and effects[0].operator == "E001"
    assert run(SecondBadge(SUPERVISOR), session=s)[0].units[0].second_by == "E003"


def test_special_item_put_back_or_sign_out():
    s = step(open_order("SO-10002"), EARBUDS, CTX).session
    assert run(PutBack(), session=s)[0].state is State.ORDER_OPEN
    assert run(SignOut(), session=s)[0].state is State.IDLE


def test_fifo_override_then_second_badge():
    from station_core_data import Catalog

    from packgate.station.core.models import Order
    sku = replace(CAT.sku("SKU-001"), special=True)
    order = Order.from_dict({"order_id": "SO-S", "tote": None, "packaging": "BOX-M", "status": "open",
                             "lines": [{"sku": "SKU-001", "qty": 1}]})
    cat = Catalog([sku], CAT.lots_for("SKU-001"), [CAT.packaging("BOX-M")],
                  [CAT.employee_by_badge(b) for b in (PACKER, PACKER2, SUPERVISOR)], [order])
    ctx = replace(CTX, catalog=cat)
    s, v, effects = run(Badge(PACKER), OpenOrder("SO-S"), TEA_NEW, FifoOverride(SUPERVISOR, "customer asked"), ctx=ctx)
    assert s.state is State.AWAITING_SECOND_BADGE and v.code == "second_badge_required"
    s, v, _ = run(Badge(PACKER2), session=s, ctx=ctx)
    assert s.units[0].approved_by == "E003" and s.units[0].second_by == "E002" and s.state is State.READY_TO_WEIGH


# ---------------------------------------------------------------- weighing


def test_unstable_reading_is_not_a_weighing():
    s = scanned_10001()
    same, v, effects = step(s, Weigh(D("1225"), False), CTX)
    assert same == s and v.code == "weight_unstable" and effects == []


def test_out_of_tolerance_blocks_with_the_difference():
    s, v, effects = run(Weigh(D("2000"), True), session=scanned_10001())
    assert s.state is State.BLOCKED and v.code == "weight_out_of_tolerance" and v.colour == "red"
    assert v.data["diff_g"] == "+775.0" and v.data["diff_pct"] == "+63.27" and v.data["allowed_g"] == "453.6"
    assert effects[0].action == "weigh" and effects[0].payload["result"] == "fail"
    refused(s, Pack(), "not_allowed_now")


def test_out_of_tolerance_with_a_stricter_floor_table():
    ctx = replace(CTX, tolerance=ToleranceConfig(floors=FLOOR_TABLES["ounce"]))
    s, v, _ = step(scanned_10001(), Weigh(D("1475"), True), ctx)  # a 250 g tin too many
    assert s.state is State.BLOCKED and v.data["allowed_g"] == "61.2"  # 61.25 shown rounded down


def test_reweigh_is_audited_and_can_pass():
    s = run(Weigh(D("2000"), True), session=scanned_10001())[0]
    s, v, effects = run(Reweigh(), session=s)
    assert s.state is State.READY_TO_WEIGH and v.code == "reweigh"
    assert effects[0].action == "reweigh" and effects[0].who == "E001"
    assert effects[0].before["weight"]["result"] == "fail" and effects[0].before["state"] == "blocked"
    s, v, effects = run(Weigh(D("1225"), True), session=s)
    assert s.state is State.WEIGHED_OK and s.weighings == 2 and effects[0].payload["attempt"] == 2


def test_weight_override_only_by_a_supervisor_with_a_reason():
    s = run(Weigh(D("2000"), True), session=scanned_10001())[0]
    refused(s, SupervisorOverride(PACKER2, "fine"), "override_not_supervisor")
    refused(s, SupervisorOverride(PACKER, "fine"), "override_not_supervisor")
    refused(s, SupervisorOverride(SUPERVISOR, ""), "override_reason_missing")
    s, v, effects = run(SupervisorOverride(SUPERVISOR, "gift wrap added"), session=s)
    assert s.state is State.WEIGHED_OK and v.code == "weight_overridden" and s.override.employee_id == "E003"
    audit, conf = effects
    assert (audit.action, audit.who, audit.reason) == ("weight_override", "E003", "gift wrap added")
    assert audit.before["state"] == "blocked" and audit.after["state"] == "weighed_ok"
    assert conf.action == "override" and conf.operator == "E003" and conf.payload["weight"]["result"] == "fail"
    s, v, effects = run(Pack(), session=s)
    assert effects[0].payload["override"]["reason"] == "gift wrap added"


def test_supervisor_cannot_approve_own_session_unless_allowed():
    s = run(Badge(SUPERVISOR), OpenOrder("SO-10001"), TEA_OLD, TEA_OLD, NOODLES, Weigh(D("2000"), True))[0]
    refused(s, SupervisorOverride(SUPERVISOR, "mine"), "override_self")
    assert run(SupervisorOverride(SUPERVISOR2, "checked"), session=s)[0].state is State.WEIGHED_OK
    ctx = replace(CTX, allow_self_override=True)
    assert run(SupervisorOverride(SUPERVISOR, "mine"), session=s, ctx=ctx)[0].state is State.WEIGHED_OK


def test_no_catalog_weight_blocks_until_a_supervisor_approves():
    s = run(ScanItem("SKU-004"), session=open_order("SO-10003"))[0]
    assert s.state is State.READY_TO_WEIGH
    s, v, effects = run(Weigh(D("300"), True), session=s)
    assert s.state is State.BLOCKED and v.code == "no_catalog_weight" and effects[0].payload["result"] == "unverifiable"
    assert run(SupervisorOverride(SUPERVISOR, "weighed by hand"), Pack(), session=s)[0].state is State.PACKED


def test_pack_only_after_weighed_ok_or_override():
    for s in (open_order(), scanned_10001(), run(Weigh(D("2000"), True), session=scanned_10001())[0]):
        refused(s, Pack(), "not_allowed_now")


def test_changing_packaging_after_weighing_invalidates_it():
    s = run(Weigh(D("1225"), True), session=scanned_10001())[0]
    s, v, effects = run(ChoosePackaging("BOX-S"), session=s)
    assert s.state is State.READY_TO_WEIGH and effects[0].action == "packaging_change"
    refused(s, Pack(), "not_allowed_now")


def test_reweigh_after_ok_is_allowed():
    s = run(Weigh(D("1225"), True), Reweigh("parcel bumped"), session=scanned_10001())[0]
    assert s.state is State.READY_TO_WEIGH


# ---------------------------------------------------------------- cancel, next order, persistence


def test_cancel_needs_a_reason_and_is_audited():
    s = run(TEA_OLD, session=open_order())[0]
    refused(s, Cancel(" "), "cancel_reason_missing")
    s, v, effects = run(Cancel("customer cancelled"), session=s)
    assert s.state is State.CANCELLED and v.code == "cancelled"
    audit, conf = effects
    assert audit.before["units"] == 1 and audit.after["state"] == "cancelled" and audit.reason == "customer cancelled"
    assert conf.action == "cancel" and conf.payload["units_scanned"] == 1


def test_next_order_after_packed_or_cancelled():
    packed = run(Weigh(D("1225"), True), Pack(), session=scanned_10001())[0]
    s = run(OpenOrder("SO-10002"), session=packed)[0]
    assert s.state is State.ORDER_OPEN and s.units == () and s.weight is None and s.operator.employee_id == "E001"


def test_not_allowed_now_names_the_event_state_and_next_step():
    v = refused(PackSession(), ScanItem("SKU-001"), "not_allowed_now")
    assert v.data == {"event": "scan_item", "state": "idle"} and v.next == "tap_badge"
    assert "Tap your badge" in v.message


def test_session_round_trips_through_a_dict():
    s = run(Weigh(D("2000"), True), SupervisorOverride(SUPERVISOR, "ok"), session=scanned_10001())[0]
    assert PackSession.from_dict(s.to_dict()) == s
    pending = step(open_order(), TEA_NEW, CTX).session
    assert PackSession.from_dict(pending.to_dict()) == pending
    json.dumps(s.to_dict())


# ---------------------------------------------------------------- invariants under random event sequences

EVENTS = st.sampled_from([
    Badge(PACKER), Badge(PACKER2), Badge(SUPERVISOR), Badge(UNKNOWN_BADGE), Badge(PICKER),
    OpenOrder("SO-10001"), OpenOrder("SO-10002"), OpenOrder("SO-10005"), OpenOrder("nope"),
    TEA_OLD, TEA_NEW, NOODLES, EARBUDS, ScanItem("SKU-005", serial="X"), ScanItem("SKU-001", lot="L20250801"),
    ScanItem("SKU-002", lot="N-NONE"), ScanItem("SKU-005", lot="X", serial="S1"), ChoosePackaging("BOX-S"), ChoosePackaging("BOX-M"),
    SecondBadge(PACKER2), SecondBadge(PACKER), FifoTakeOlder(), PutBack(), FifoOverride(SUPERVISOR, "r"),
    FifoOverride(PACKER2, "r"), Weigh(D("1225"), True), Weigh(D("2000"), True), Weigh(D("205"), True),
    Weigh(D("1225"), False), Reweigh(), SupervisorOverride(SUPERVISOR, "r"), SupervisorOverride(PACKER2, "r"),
    Pack(), Cancel("r"), Cancel(""), SignOut(),
])


def _starts():
    blocked = run(Weigh(D("2000"), True), session=scanned_10001())[0]
    return [PackSession(), open_order(), scanned_10001(), blocked, run(Reweigh(), session=blocked)[0],
            run(Weigh(D("1225"), True), session=scanned_10001())[0], step(open_order(), TEA_NEW, CTX).session,
            step(open_order("SO-10002"), EARBUDS, CTX).session, run(Cancel("r"), session=open_order())[0]]


STARTS = _starts()


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(STARTS), st.lists(EVENTS, max_size=30))
def test_random_sequences_keep_the_invariants(start, events):
    s = start
    for event in events:
        new, verdict, effects = step(s, event, CTX)
        json.dumps(verdict.as_dict())
        json.dumps([e.payload for e in effects if isinstance(e, Confirmation)])
        if verdict.status == "error":
            assert new == s and effects == []
        else:
            assert new.state == s.state or new.state in TRANSITIONS[s.state][event.name]
        assert new.order is None or all(new.packed_qty(k) <= q for k, q in new.order.quantities().items())
        assert len(new.serials) == sum(1 for u in new.units if u.serial)
        if new.state is State.PACKED and s.state is not State.PACKED:
            assert s.state is State.WEIGHED_OK and (s.weight.result == "pass" or s.override is not None)
        assert (new.pending is not None) == (new.state in (State.AWAITING_FIFO_DECISION, State.AWAITING_SECOND_BADGE))
        assert (new.operator is None) == (new.state is State.IDLE)
        for effect in effects:
            if isinstance(effect, Confirmation):
                assert effect.operator is not None
        assert PackSession.from_dict(new.to_dict()) == new
        s = new
