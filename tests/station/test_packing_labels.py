"""The label gate and cartons in the pure pack machine (core.labels): print mode, the label scan, reprint,
cartons, weigh-and-ship; event by event, with the effects each step asks to record."""
from dataclasses import replace
from decimal import Decimal as D

from station_core_data import PACKER, SUPERVISOR, TODAY, catalog

from packgate.station.core.effects import AuditEntry, Confirmation
from packgate.station.core.labels import CloseCarton, LabelMode, LabelPrinted, Reprint, ScanLabel
from packgate.station.core.packing import (
    Badge,
    OpenOrder,
    Pack,
    PackContext,
    PackSession,
    ScanItem,
    State,
    SupervisorOverride,
    Weigh,
    step,
)

CAT = catalog()
NONE = PackContext(catalog=CAT, today=TODAY)
PRINT = replace(NONE, label_mode=LabelMode.PRINT)
SHIP = replace(NONE, label_mode=LabelMode.WEIGH_AND_SHIP)
TEA = ScanItem("07032069804988", lot="L20251103")
NOODLES = ScanItem("06901234000021", lot="N-MAR")


def run(*events, session=None, ctx=NONE):
    session = session or PackSession(station="ST01")
    effects, verdict = [], None
    for event in events:
        session, verdict, new = step(session, event, ctx)
        assert verdict.status != "error", verdict.message
        effects += new
    return session, verdict, effects


def refused(session, event, code, ctx=NONE):
    new, verdict, effects = step(session, event, ctx)
    assert verdict.code == code and verdict.status == "error", verdict.message
    assert new == session and effects == []
    return verdict


def packs(effects):
    return [e for e in effects if isinstance(e, Confirmation) and e.action == "pack"]


def weighed(ctx):
    return run(Badge(PACKER), OpenOrder("SO-10001"), TEA, TEA, NOODLES, Weigh(D("1225"), True), ctx=ctx)[0]


def test_print_mode_packs_only_when_the_printed_label_is_scanned():
    s = weighed(PRINT)
    assert s.state is State.WEIGHED_OK
    refused(s, Pack(), "label_first", PRINT)
    s, v, effects = run(LabelPrinted("EE123456785CN", 1), session=s, ctx=PRINT)
    # the weighing passed and the label is out: green with the next step, never an amber after a good weighing
    assert s.state is State.LABEL_PRINTED and v.code == "label_printed" and v.status == "ok" and effects == []
    assert v.message.startswith("Weight OK — label EE123456785CN printed") and v.next == "scan_label"
    assert v.message_zh.startswith("重量合格——")
    other = refused(s, ScanLabel("EE000000011CN", "SO-10002"), "label_other_order", PRINT)
    assert "SO-10002" in other.message and "SO-10002" in other.message_zh and "EE123456785CN" in other.message
    refused(s, ScanLabel("RANDOM-CODE", None), "label_wrong", PRINT)
    refused(s, Weigh(D("1225"), True), "not_allowed_now", PRINT)
    s, v, effects = run(ScanLabel("EE123456785CN", "SO-10001"), session=s, ctx=PRINT)
    assert s.state is State.PACKED and v.code == "packed"
    (pack,) = packs(effects)
    assert pack.payload["waybill"] == "EE123456785CN" and pack.payload["carton"] == 1
    assert len(pack.payload["units"]) == 3 and pack.payload["weight"]["result"] == "pass"


def test_a_blocked_parcel_waits_for_the_override_before_any_label():
    s = run(Badge(PACKER), OpenOrder("SO-10001"), TEA, TEA, NOODLES, Weigh(D("2000"), True), ctx=PRINT)[0]
    assert s.state is State.BLOCKED
    refused(s, LabelPrinted("EE123456785CN", 1), "not_allowed_now", PRINT)
    s = run(SupervisorOverride(SUPERVISOR, "extra flyer"), session=s, ctx=PRINT)[0]
    assert s.state is State.WEIGHED_OK  # now the station may ask for the label


def test_a_reprint_is_audited_and_keeps_the_waybill():
    s = run(LabelPrinted("EE123456785CN", 1), session=weighed(PRINT), ctx=PRINT)[0]
    s, v, effects = run(Reprint("label torn"), session=s, ctx=PRINT)
    assert s.state is State.LABEL_PRINTED and s.label is not None and s.label.reprints == 1
    assert s.label.waybill == "EE123456785CN" and v.code == "label_reprinted"
    (audit,) = effects
    assert isinstance(audit, AuditEntry) and audit.action == "label_reprint" and audit.reason == "label torn"
    assert audit.before == {"waybill": "EE123456785CN", "reprints": 0}


def test_without_the_scan_check_a_printed_label_packs():
    s, v, effects = run(LabelPrinted("EE123456785CN", 1), session=weighed(PRINT),
                        ctx=replace(PRINT, label_verify=False))
    assert s.state is State.PACKED and packs(effects)[0].payload["waybill"] == "EE123456785CN"


def test_two_cartons_each_weighed_on_their_own_then_packed():
    s = run(Badge(PACKER), OpenOrder("SO-10001"), TEA, TEA)[0]
    refused(s, CloseCarton("BOX-NONE"), "unknown_packaging")
    s, v, effects = run(CloseCarton("BOX-M"), session=s)
    assert s.state is State.READY_TO_WEIGH and v.code == "carton_closing" and v.data["carton"] == 1
    blocked = step(s, Weigh(D("1225"), True), NONE).session  # the whole order's weight is wrong for carton 1
    assert blocked.state is State.BLOCKED
    refused(blocked, NOODLES, "carton_weighed")
    s, v, first = run(Weigh(D("700"), True), Pack(), session=s)  # 2 x 250 g + the 200 g box
    assert s.state is State.SCANNING and v.code == "carton_packed" and len(s.cartons) == 1
    assert s.open_units == () and s.packed_qty("SKU-001") == 2
    s, v, second = run(NOODLES, session=s)
    assert s.state is State.READY_TO_WEIGH  # the box is kept for the last carton
    s, v, more = run(Weigh(D("725"), True), Pack(), session=s)
    second += more
    assert s.state is State.PACKED and v.code == "packed"
    assert [(p.payload["carton"], len(p.payload["units"]), p.payload["weight"]["expected_g"])
            for p in packs(first + second)] == [(1, 2, "700.0"), (2, 1, "725.0")]
    assert PackSession.from_dict(s.to_dict()) == s


def test_a_carton_needs_items_and_a_box():
    s = run(Badge(PACKER), OpenOrder("SO-10001"))[0]
    refused(s, CloseCarton(), "not_allowed_now")  # nothing scanned: the order is open, not scanning
    s = run(TEA, session=replace(s, packaging=None))[0]
    refused(s, CloseCarton(), "carton_needs_box")


def test_weigh_and_ship_the_waybill_opens_and_the_passing_weighing_ships_once():
    s = run(Badge(PACKER), ctx=SHIP)[0]
    refused(s, OpenOrder("SO-10001"), "waybill_opens_order", SHIP)
    refused(s, ScanLabel("EE999999995CN", None), "unknown_waybill", SHIP)
    s, v, _ = run(ScanLabel("EE123456785CN", "SO-10001"), TEA, TEA, session=s, ctx=SHIP)
    assert s.waybill == "EE123456785CN"
    refused(s, CloseCarton("BOX-M"), "carton_one_waybill", SHIP)
    s, v, effects = run(NOODLES, Weigh(D("1225"), True), session=s, ctx=SHIP)
    assert s.state is State.PACKED and v.code == "shipped" and "EE123456785CN" in v.message
    assert [e.action for e in effects if isinstance(e, Confirmation)] == ["verify", "weigh", "pack"]
    (ship,) = packs(effects)
    assert ship.payload["shipped"] is True and ship.payload["waybill"] == "EE123456785CN"
    refused(s, Weigh(D("1225"), True), "not_allowed_now", SHIP)  # never a second shipment


def test_weigh_and_ship_an_approved_blocked_parcel_ships_with_the_override():
    s = run(Badge(PACKER), ScanLabel("EE123456785CN", "SO-10001"), TEA, TEA, NOODLES, Weigh(D("2000"), True),
            ctx=SHIP)[0]
    assert s.state is State.BLOCKED
    s, v, effects = run(SupervisorOverride(SUPERVISOR, "catalog weight wrong"), session=s, ctx=SHIP)
    assert s.state is State.PACKED and v.code == "shipped"
    (ship,) = packs(effects)
    assert ship.payload["override"]["reason"] == "catalog weight wrong"
