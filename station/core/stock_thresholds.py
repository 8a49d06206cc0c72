"""Stock thresholds (安全库存), pure: did taking units push a SKU or a lot to or below its safety level?

A threshold comes from the WMS (a lot's ``safety_qty``, a SKU's ``safety_stock``) or the site's default
(``stock.default_safety_qty``, 0: none). A crossing is a level that was above the threshold before the units were
taken and is at or below it after: reported once per crossing (the station keeps which are open until the stock is
above the threshold again).

    for c in crossings(sku_row, lot_rows, taken={"L20251103": 1}, default=0): ...
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Crossing:
    sku: str
    lot: str | None  # None: the SKU as a whole
    before: int
    after: int
    threshold: int

    @property
    def key(self) -> str:
        return f"{self.sku}|{self.lot or '*'}"

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "lot": self.lot, "before": self.before, "after": self.after,
                "threshold": self.threshold, "suggested_qty": max(self.threshold * 2 - self.after, 1)}


def threshold_of(row: Mapping[str, Any] | None, field: str, default: int) -> int:
    value = (row or {}).get(field)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def crossings(sku: str, sku_row: Mapping[str, Any] | None, lot_rows: list[Mapping[str, Any]],
              counted: Mapping[str | None, int], taken: Mapping[str | None, int], default: int) -> list[Crossing]:
    """The levels ``taken`` (units per lot, None: no lot scanned, taken just now, after the ``counted`` ones of the
    same order) pushed to or below their threshold; a SKU's level counts every unit, whatever its lot."""
    found: list[Crossing] = []
    stock = 0
    for row in lot_rows:
        qty = row.get("qty")
        if not isinstance(qty, int) or isinstance(qty, bool):
            continue
        stock += qty
        lot = str(row.get("lot"))
        before = qty - counted.get(lot, 0)
        after = before - taken.get(lot, 0)
        limit = threshold_of(row, "safety_qty", 0)
        if limit and before > limit >= after:
            found.append(Crossing(sku, lot, before, after, limit))
    before = stock - sum(counted.values())
    after = before - sum(taken.values())
    limit = threshold_of(sku_row, "safety_stock", default)
    if limit and before > limit >= after:
        found.append(Crossing(sku, None, before, after, limit))
    return found


def below(sku_row: Mapping[str, Any] | None, lot_rows: list[Mapping[str, Any]], default: int) -> set[str]:
    """The keys (``Crossing.key``) at or below their threshold now: an alert stays open while its key is here."""
    keys: set[str] = set()
    total = 0
    sku = str((sku_row or {}).get("sku") or (lot_rows[0].get("sku") if lot_rows else ""))
    for row in lot_rows:
        qty = row.get("qty")
        if not isinstance(qty, int) or isinstance(qty, bool):
            continue
        total += qty
        limit = threshold_of(row, "safety_qty", 0)
        if limit and qty <= limit:
            keys.add(f"{sku}|{row.get('lot')}")
    limit = threshold_of(sku_row, "safety_stock", default)
    if limit and total <= limit:
        keys.add(f"{sku}|*")
    return keys
