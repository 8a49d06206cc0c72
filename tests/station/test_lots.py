"""FIFO / FEFO lot rules, expiry highlights, lot merges."""
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from station_core_data import TODAY, catalog

from packgate.station.core.lots import LotCheck, allocate, check_lot, expiring_within, in_use_order, less_taken
from packgate.station.core.models import Lot, LotPolicy, Sku

CAT = catalog()
TEA = CAT.sku("SKU-001")  # FIFO
NOODLES = CAT.sku("SKU-002")  # FEFO
D = date.fromisoformat


def lot(code, produced=None, expires=None, bin="A-1", qty=5, sku="X"):
    return Lot(sku, code, D(produced) if produced else None, D(expires) if expires else None, bin, qty)


def check(sku, code, lots=None, **kw) -> LotCheck:
    return check_lot(sku, code, CAT.lots_for(sku.sku) if lots is None else lots, TODAY, **kw)


def test_oldest_eligible_lot_is_accepted():
    assert check(TEA, "L20251103").accepted


def test_newer_lot_prompts_with_the_older_lot_and_its_bin():
    result = check(TEA, "L20260129")
    assert not result.accepted and result.verdict.code == "fifo_older_lot" and result.verdict.status == "prompt"
    assert result.older.lot == "L20251103" and result.older.bin == "A-01-02"  # not the expired L20250801
    assert result.verdict.data["older_bin"] == "A-01-02" and "A-01-02" in result.verdict.message
    assert result.verdict.colour == "amber" and result.verdict.next == "take_older_lot_or_override"


def test_expired_lot_is_refused():
    result = check(TEA, "L20250801")
    assert result.verdict.code == "lot_expired" and result.verdict.status == "error"
    assert result.verdict.data["expires"] == "2026-02-01" and "Feb 1, 2026" in result.verdict.message
    assert "2026年2月1日" in result.verdict.message_zh


@pytest.mark.parametrize("expires, expired", [("2026-02-09", True), ("2026-02-10", False), ("2026-02-11", False)])
def test_a_lot_is_good_on_its_expiry_date(expires, expired):
    sku = Sku("X", None, "x", None, lot_policy=LotPolicy.FIFO)
    result = check(sku, "A", [lot("A", "2025-01-01", expires)])
    assert (result.verdict is not None and result.verdict.code == "lot_expired") is expired


def test_scanned_expiry_earlier_than_stored_counts():
    sku = Sku("X", None, "x", None, lot_policy=LotPolicy.FIFO)
    result = check(sku, "A", [lot("A", "2025-01-01", "2027-01-01")], expires=D("2026-01-31"))
    assert result.verdict.code == "lot_expired"
    # a scan without expiry keeps the stored one
    assert check(sku, "A", [lot("A", "2025-01-01", "2027-01-01")]).lot.expires == D("2027-01-01")


@pytest.mark.parametrize("lots, scanned, prompt", [
    # equal production dates: no prompt either way
    ([lot("A", "2025-11-03"), lot("B", "2025-11-03")], "B", None),
    ([lot("A", "2025-11-03"), lot("B", "2025-11-03")], "A", None),
    # older lot without stock or expired does not count
    ([lot("A", "2025-11-01", qty=0), lot("B", "2025-12-01")], "B", None),
    ([lot("A", "2025-11-01", "2026-01-01"), lot("B", "2025-12-01")], "B", None),
    # several older lots: the oldest is named
    ([lot("A", "2025-10-01", bin="Z-9"), lot("C", "2025-09-01", bin="Q-1"), lot("B", "2025-12-01")], "B", "C"),
    # a lot without production date sorts last under FIFO
    ([lot("A", None), lot("B", "2025-12-01")], "B", None),
    ([lot("A", "2025-12-01"), lot("B", None)], "B", "A"),
    # other SKUs are ignored
    ([lot("A", "2025-01-01", sku="OTHER"), lot("B", "2025-12-01")], "B", None),
])
def test_fifo_table(lots, scanned, prompt):
    sku = Sku("X", None, "x", None, lot_policy=LotPolicy.FIFO)
    result = check(sku, scanned, lots)
    assert (result.older.lot if result.older else None) == prompt
    assert result.accepted is (prompt is None)


@pytest.mark.parametrize("lots, scanned, prompt", [
    ([lot("A", expires="2026-03-01"), lot("B", expires="2026-06-01")], "B", "A"),
    ([lot("A", expires="2026-03-01"), lot("B", expires="2026-06-01")], "A", None),
    # a lot without expiry goes after every dated lot
    ([lot("A", expires="2026-03-01"), lot("N", expires=None)], "N", "A"),
    ([lot("A", expires="2026-03-01"), lot("N", expires=None)], "A", None),
    ([lot("N1", expires=None), lot("N2", expires=None)], "N2", None),
    # equal expiry: no prompt; production date is irrelevant under FEFO
    ([lot("A", "2025-01-01", "2026-03-01"), lot("B", "2025-12-01", "2026-03-01")], "B", None),
    ([lot("A", "2025-12-01", "2026-03-01"), lot("B", "2025-01-01", "2026-06-01")], "B", "A"),
])
def test_fefo_table(lots, scanned, prompt):
    sku = Sku("X", None, "x", None, lot_policy=LotPolicy.FEFO)
    result = check(sku, scanned, lots)
    assert (result.older.lot if result.older else None) == prompt
    if prompt:
        assert result.verdict.data["policy"] == "FEFO" and result.verdict.data["basis"] == "expiry"
        assert "expiry" in result.verdict.message and "到期日" in result.verdict.message_zh


def test_fefo_on_reference_data():
    assert check(NOODLES, "N-MAR").accepted
    assert check(NOODLES, "N-JUN").older.lot == "N-MAR"
    assert check(NOODLES, "N-NONE").older.lot == "N-MAR"


def test_site_default_policy_applies_when_sku_has_none():
    sku = Sku("X", None, "x", None, lot_policy=None)
    lots = [lot("A", "2025-01-01", "2026-12-01"), lot("B", "2025-06-01", "2026-03-01")]
    assert check(sku, "B", lots, site_default=LotPolicy.FIFO).older.lot == "A"
    assert check(sku, "B", lots, site_default=LotPolicy.FEFO).accepted
    assert check(sku, "whatever", lots, site_default=LotPolicy.NONE).accepted


def test_missing_and_unknown_lots():
    assert check(TEA, None).verdict.code == "lot_required"
    assert check(TEA, None, require_lot=False).accepted
    unknown = check(TEA, "L-NEW", expires=D("2027-01-01"))
    assert unknown.verdict.code == "lot_unknown" and unknown.verdict.status == "prompt"
    assert unknown.lot.expires == D("2027-01-01")
    assert check(TEA, "L-NEW", expires=D("2026-01-01")).verdict.code == "lot_expired"


def test_units_taken_in_this_session_free_the_next_lot():
    lots = CAT.lots_for("SKU-001")
    assert check(TEA, "L20251217").older.lot == "L20251103"
    drained = less_taken(lots, {"L20251103": 2})
    assert check(TEA, "L20251217", drained).accepted
    assert check(TEA, "L20260129", drained).older.lot == "L20251217"


def test_expiring_within():
    lots = [lot("SOON", expires="2026-03-01"), lot("LATE", expires="2026-12-01"), lot("GONE", expires="2026-02-01"),
            lot("EDGE", expires=(TODAY + timedelta(days=90)).isoformat()), lot("NOEXP"),
            lot("EMPTY", expires="2026-03-01", qty=0)]
    found = expiring_within(lots, TODAY)
    assert [(e.lot.lot, e.days_left, e.expired) for e in found] == [
        ("GONE", -9, True), ("SOON", 19, False), ("EDGE", 90, False)]
    assert [e.lot.lot for e in expiring_within(lots, TODAY, include_expired=False)] == ["SOON", "EDGE"]
    assert [e.lot.lot for e in expiring_within(lots, TODAY, days=10)] == ["GONE"]


def test_allocate_and_use_order():
    lots = CAT.lots_for("SKU-001")
    taken, missing = allocate(lots, 5, LotPolicy.FIFO, TODAY)
    assert [(l.lot, n) for l, n in taken] == [("L20251103", 2), ("L20251217", 3)] and missing == 0
    taken, missing = allocate(lots, 20, LotPolicy.FIFO, TODAY)
    assert sum(n for _, n in taken) == 17 and missing == 3  # the expired lot is never allocated
    assert [l.lot for l in in_use_order(CAT.lots_for("SKU-002"), LotPolicy.FEFO, TODAY)] == ["N-MAR", "N-JUN", "N-NONE"]
    assert [l.bin for l in in_use_order(CAT.lots_for("SKU-002"), LotPolicy.NONE, TODAY)] == ["C-2-1", "C-3-1", "C-10-1"]


dates = st.one_of(st.none(), st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)))
lot_rows = st.lists(st.builds(lambda i, p, e, q, b: Lot("X", f"L{i}", p, e, f"B-{b}", q),
                              st.integers(0, 5), dates, dates, st.integers(0, 3), st.integers(1, 20)),
                    max_size=6, unique_by=lambda l: l.lot)


@settings(max_examples=300, deadline=None)
@given(lots=lot_rows, policy=st.sampled_from([LotPolicy.FIFO, LotPolicy.FEFO]))
def test_the_first_lot_in_use_order_is_always_accepted(lots, policy):
    sku = Sku("X", None, "x", None, lot_policy=policy)
    ordered = in_use_order(lots, policy, TODAY)
    if ordered:
        assert check_lot(sku, ordered[0].lot, lots, TODAY).accepted
    for candidate in lots:
        result = check_lot(sku, candidate.lot, lots, TODAY)
        if result.older is not None:
            assert result.older.qty > 0 and result.older.lot != candidate.lot
            assert result.older == ordered[0]  # always the lot to use first
