"""The pure rules of a return (``station/core/returns.py``): no I/O, every outcome and refusal."""
from __future__ import annotations

from decimal import Decimal

from packgate.station.core import returns as rules
from packgate.station.core.models import Employee, Role, Sku

MUG = Sku("SKU-012", None, "Ceramic mug", Decimal("350"))
WATCH = Sku("SKU-009", None, "Smartwatch", Decimal("140"), special=True)
TEA = Sku("SKU-001", None, "Tea", Decimal("262"))
RMA = rules.Rma.from_row({"rma_id": "R1", "order_id": "SO-1", "waybill": "W1", "reason": "defective",
                          "lines": [{"sku": "SKU-012", "qty": 2}, {"sku": "SKU-009", "qty": 1}],
                          "shipped": {"units": [{"sku": "SKU-012", "lot": "L1"}, {"sku": "SKU-012", "lot": "L1"},
                                                {"sku": "SKU-009", "serial": "SW-1"}], "weight_g": "900.0"}})
SUPERVISOR = Employee("E005", "Priya", "B5", Role.SUPERVISOR)
PACKER2 = Employee("E002", "Maria", "B2", Role.PACKER)


def opened() -> rules.ReturnSession:
    assert RMA is not None
    outcome = rules.receive(rules.ReturnSession(), RMA, "E001")
    [conf] = outcome.effects
    assert conf.action == "return_received" and conf.object_type == "rma" and conf.object_id == "R1"
    return outcome.session


def test_an_rma_row_needs_an_id_an_order_and_lines():
    assert rules.Rma.from_row({"rma_id": "R", "order_id": "O", "lines": []}) is None
    assert rules.Rma.from_row({"rma_id": "R", "lines": [{"sku": "S", "qty": 1}]}) is None
    bad_qty = rules.Rma.from_row({"rma_id": "R", "order_id": "O", "lines": [{"sku": "S", "qty": True}]})
    assert bad_qty is None
    assert RMA is not None and dict(RMA.lines) == {"SKU-012": 2, "SKU-009": 1}
    again = rules.ReturnSession.from_dict(opened().to_dict())
    assert again == opened()


def test_a_unit_from_another_lot_is_not_the_one_shipped_and_refusals_record_nothing():
    s = opened()
    other = rules.item(s, rules.ItemScan("SKU-012", lot="L9"), MUG, "E001")
    assert other.verdict.code == "return_not_our_unit" and other.effects == [] and other.session.pending.swapped == "lot"
    assert rules.item(s, rules.ItemScan("SKU-001"), TEA, "E001").verdict.code == "return_item_not_in_rma"
    assert rules.item(s, rules.ItemScan("SKU-001"), None, "E001").session == s
    same_lot = rules.item(s, rules.ItemScan("SKU-012", lot="L1"), MUG, "E001")
    assert same_lot.verdict.code == "return_item_taken" and same_lot.session.units[0].lot == "L1"
    no_lot = rules.item(same_lot.session, rules.ItemScan("SKU-012"), MUG, "E001")  # the lot shipped is assumed
    assert no_lot.session.units[1].lot == "L1"
    assert rules.item(no_lot.session, rules.ItemScan("SKU-012"), MUG, "E001").verdict.code == "return_item_extra"


def test_a_swap_waits_for_a_supervisor_and_a_special_item_for_a_second_person():
    s = opened()
    held = rules.item(s, rules.ItemScan("SKU-009", serial="SW-2"), WATCH, "E001").session
    assert held.state == rules.State.SWAP_REVIEW
    assert rules.item(held, rules.ItemScan("SKU-012"), MUG, "E001").verdict.code == "return_waiting_badge"
    assert rules.approve(held, PACKER2, "x").verdict.code == "return_supervisor_needed"
    assert rules.approve(held, SUPERVISOR, " ").verdict.code == "return_reason_needed"
    taken = rules.approve(held, SUPERVISOR, "swap")
    assert [type(e).__name__ for e in taken.effects] == ["Confirmation", "AuditEntry"]
    assert taken.session.units[0].approved_by == "E005" and taken.verdict.status == "blocked"
    special = rules.item(s, rules.ItemScan("SKU-009", serial="SW-1"), WATCH, "E001").session
    assert special.state == rules.State.SECOND_BADGE
    assert rules.second(special, Employee("E001", "Li", "B1", Role.PACKER)).verdict.code == "return_second_same_person"
    assert rules.second(special, PACKER2).session.units[0].second_by == "E002"
    assert rules.put_aside(special).session.units == ()


def test_refund_only_when_everything_came_back_grade_a_unswapped_and_the_weight_matched():
    s = opened()
    for scan, sku in ((rules.ItemScan("SKU-012", lot="L1"), MUG), (rules.ItemScan("SKU-012", lot="L1"), MUG)):
        s = rules.item(s, scan, sku, "E001").session
    s = rules.second(rules.item(s, rules.ItemScan("SKU-009", serial="SW-1"), WATCH, "E001").session, PACKER2).session
    assert rules.close(s).verdict.code == "return_close_ungraded"
    for i in range(3):
        s = rules.grade(s, i, "A", None, None, {"lot": "L1", "bin": "D-01"}).session
    assert rules.close(s).verdict.code == "return_close_unweighed"
    expected = rules.expected_weight(s.units, {"SKU-012": MUG, "SKU-009": WATCH})
    assert expected == Decimal("840")
    allowed = rules.allowed_gap(expected, Decimal("5"), Decimal("20"))
    assert allowed == Decimal("42")
    ok = rules.weigh(s, Decimal("881"), expected, allowed)
    assert ok.verdict.code == "return_weight_ok" and ok.effects == []
    closed = rules.close(ok.session, "f" * 64)
    [conf] = closed.effects
    assert closed.verdict.code == "return_closed_refund" and conf.payload["outcome"] == "refund"
    assert conf.payload["grades"] == {"A": 3, "B": 0, "C": 0} and conf.payload["evidence_sha256"] == "f" * 64
    gap = rules.weigh(s, Decimal("883"), expected, allowed)
    assert gap.verdict.code == "return_weight_gap" and gap.session.weighing.flagged
    assert rules.close(gap.session).session.outcome() == ("review", ["weight_gap"])
    worn = rules.grade(ok.session, 2, "B", "scratched", None, None).session
    assert worn.outcome() == ("review", ["not_all_grade_a"])
    assert rules.grade(ok.session, 2, "B", "nope", None, None).verdict.code == "return_grade_reason"


def test_missing_units_go_to_review():
    s = rules.item(opened(), rules.ItemScan("SKU-012", lot="L1"), MUG, "E001").session
    s = rules.grade(s, 0, "A", None, None, None).session
    s = rules.weigh(s, Decimal("350"), Decimal("350"), Decimal("20")).session
    closed = rules.close(s)
    assert closed.verdict.code == "return_closed_review" and closed.effects[0].payload["missing"] == \
        {"SKU-012": 1, "SKU-009": 1}
    assert "缺件" in closed.verdict.message_zh
