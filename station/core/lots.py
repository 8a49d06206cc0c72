"""Lot rules: FIFO (production date first) or FEFO (expiry date first), expiry, highlights.

Per SKU ``lot_policy`` (FIFO / FEFO / NONE), else the site default. For a scanned lot:

* expired (expiry date before today; a lot is still good *on* its expiry date) -> ``lot_expired``, refused;
* another lot of the SKU with stock (qty > 0), not expired and strictly older by the policy's date
  -> ``fifo_older_lot``, a prompt naming the oldest such lot and its bin (equal dates do not prompt);
* a lot the site does not know -> ``lot_unknown``, a prompt (put back, or a supervisor approves);
* otherwise accepted.

A missing date sorts last: under FEFO a lot without an expiry is used after every lot that has
one; under FIFO a lot without a production date after every dated one. When the scan carries an
expiry too, the earlier of the scanned and stored expiries counts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Iterable, Mapping

from packgate.station.core.models import Lot, LotPolicy, Sku
from packgate.station.core.texts import Word
from packgate.station.core.verdicts import Verdict, make


def effective_policy(sku: Sku, site_default: LotPolicy = LotPolicy.FIFO) -> LotPolicy:
    return sku.lot_policy or site_default


def is_expired(expires: date | None, today: date) -> bool:
    return expires is not None and expires < today


def key_date(lot: Lot, policy: LotPolicy) -> date | None:
    """The date the policy orders by: expiry for FEFO, production for FIFO."""
    return lot.expires if policy is LotPolicy.FEFO else lot.produced


def sort_key(lot: Lot, policy: LotPolicy) -> tuple[Any, ...]:
    """Oldest first by the policy's date (missing dates last), then the other date, bin and lot code."""
    other = lot.produced if policy is LotPolicy.FEFO else lot.expires
    first = key_date(lot, policy)
    return (first is None, first or date.max, other is None, other or date.max, bin_sort_key(lot.bin), lot.lot)


def bin_sort_key(code: str | None) -> tuple[Any, ...]:
    """Natural order of bin codes: 'A-2-1' < 'A-10-1'; bins unknown (None) last."""
    if code is None:
        return (1,)
    return (0, *((0, int(part), "") if part.isdecimal() else (1, 0, part) for part in re.split(r"(\d+)", code) if part))


def usable(lots: Iterable[Lot], today: date) -> list[Lot]:
    """Lots with stock that have not expired."""
    return [lot for lot in lots if lot.qty > 0 and not is_expired(lot.expires, today)]


def in_use_order(lots: Iterable[Lot], policy: LotPolicy, today: date) -> list[Lot]:
    """Usable lots in the order they must be used (for NONE: by bin, then lot code)."""
    if policy is LotPolicy.NONE:
        return sorted(usable(lots, today), key=lambda lot: (bin_sort_key(lot.bin), lot.lot))
    return sorted(usable(lots, today), key=lambda lot: sort_key(lot, policy))


def _older(candidate: date | None, scanned: date | None) -> bool:
    if candidate is None:
        return False
    return scanned is None or candidate < scanned


@dataclass(frozen=True)
class LotCheck:
    """``verdict`` is None when the lot is accepted; ``lot`` is the scanned lot as known (stored row
    completed by the scan's dates, or built from the scan when unknown); ``older`` the lot to take instead."""

    verdict: Verdict | None
    lot: Lot | None
    older: Lot | None = None
    policy: LotPolicy = LotPolicy.NONE

    @property
    def accepted(self) -> bool:
        return self.verdict is None


def check_lot(sku: Sku, lot_code: str | None, lots: Iterable[Lot], today: date,
              site_default: LotPolicy = LotPolicy.FIFO, *, expires: date | None = None,
              produced: date | None = None, require_lot: bool = True) -> LotCheck:
    """Judge a scanned lot of ``sku`` against the site's ``lots`` of that SKU (other SKUs are ignored).

    ``expires`` / ``produced`` are the dates the scan carried (GS1 AI 17 / 11), if any.
    ``require_lot``: a lot-controlled SKU scanned without a lot is refused (``lot_required``).
    """
    policy = effective_policy(sku, site_default)
    lots = [lot for lot in lots if lot.sku == sku.sku]
    if policy is LotPolicy.NONE:
        return LotCheck(None, None, policy=policy)
    if not lot_code:
        verdict = make("lot_required", sku=sku.sku, name=sku.name) if require_lot else None
        return LotCheck(verdict, None, policy=policy)
    stored = next((lot for lot in lots if lot.lot == lot_code), None)
    known = stored or Lot(sku.sku, lot_code, produced, expires, None, 0)
    dates = [d for d in (known.expires, expires) if d is not None]
    known = replace(known, expires=min(dates) if dates else None, produced=known.produced or produced)
    if is_expired(known.expires, today):
        return LotCheck(make("lot_expired", sku=sku.sku, lot=lot_code, expires=known.expires),
                        known, policy=policy)
    if stored is None:
        return LotCheck(make("lot_unknown", sku=sku.sku, lot=lot_code), known, policy=policy)
    scanned_date = key_date(known, policy)
    older = [lot for lot in usable(lots, today)
             if lot.lot != lot_code and _older(key_date(lot, policy), scanned_date)]
    if older:
        first = min(older, key=lambda lot: sort_key(lot, policy))
        basis = Word("word:expiry" if policy is LotPolicy.FEFO else "word:produced")
        verdict = make("fifo_older_lot", policy=str(policy), sku=sku.sku, lot=lot_code, basis=basis,
                       date=scanned_date or "-", older_lot=first.lot, older_bin=first.bin or "-",
                       older_date=key_date(first, policy) or "-")
        return LotCheck(verdict, known, first, policy)
    return LotCheck(None, known, policy=policy)


@dataclass(frozen=True)
class ExpiringLot:
    lot: Lot
    days_left: int  # negative: already expired

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def expiring_within(lots: Iterable[Lot], today: date, days: int = 90, include_expired: bool = True) -> list[ExpiringLot]:
    """Lots with stock expiring within ``days`` of ``today`` (inclusive), soonest first, for the supervisor."""
    limit = today + timedelta(days=days)
    found = [ExpiringLot(lot, (lot.expires - today).days) for lot in lots
             if lot.qty > 0 and lot.expires is not None and lot.expires <= limit
             and (include_expired or lot.expires >= today)]
    return sorted(found, key=lambda e: (e.lot.expires, e.lot.sku, e.lot.lot))


def less_taken(lots: Iterable[Lot], taken: Mapping[str, int]) -> list[Lot]:
    """The lots with the units already taken in this session (lot code -> units) removed from ``qty``,
    so a lot emptied by this very order does not make the next lot look like a FIFO violation."""
    return [replace(lot, qty=max(0, lot.qty - taken.get(lot.lot, 0))) if taken.get(lot.lot) else lot for lot in lots]


def allocate(lots: Iterable[Lot], qty: int, policy: LotPolicy, today: date) -> tuple[list[tuple[Lot, int]], int]:
    """Take ``qty`` units from usable lots in policy order: ([(lot, units)], units still missing)."""
    taken: list[tuple[Lot, int]] = []
    left = qty
    for lot in in_use_order(lots, policy, today):
        if left <= 0:
            break
        units = min(left, lot.qty)
        taken.append((lot, units))
        left -= units
    return taken, left


def _iso(day: date | None) -> str:
    return day.isoformat() if day else "-"
