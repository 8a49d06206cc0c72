"""The workflow's view of reference data: the upstream cache plus the station's own order state.

``StationCatalog`` implements ``models.CatalogView`` over ``ReferenceRows`` (the station's mirror of
upstream reference data, ``packgate.sync.reference.ReferenceCache``). Upstream rows are validated with the ``from_dict`` of each
model; a malformed row is logged and skipped, never crashes a scan. The order's status is the
station's local one when the station knows better (packed here, picked here), and the WMS's when it held or
cancelled the order; its lines are the WMS's latest (a change learned before the next reference refresh).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable, Protocol

from packgate.device.codes import canonical_badge, gtin14
from packgate.station.core.models import Employee, Lot, Order, OrderLine, Packaging, Sku
from packgate.station.core.order_state import STOPPING
from packgate.station.errors import ReferenceDataError

log = logging.getLogger("packgate.catalog")

LOCAL_STATUSES = ("picking", "picked", "packing", "weighed", "blocked", "packed", "shipped", "cancelled")


class ReferenceRows(Protocol):
    """Reference data as JSON rows, looked up by key (every lookup uses an index)."""

    def get_sku(self, sku: str) -> dict | None: ...
    def sku_by_gtin(self, gtin: str) -> dict | None: ...
    def lots_for_sku(self, sku: str) -> list[dict]: ...
    def list_lots(self) -> list[dict]: ...
    def get_packaging(self, code: str) -> dict | None: ...
    def employee_by_badge(self, uid: str) -> dict | None: ...
    def employee_by_id(self, employee_id: str) -> dict | None: ...
    def list_employees(self) -> list[dict]: ...
    def get_order(self, order_id: str) -> dict | None: ...
    def order_by_tote(self, tote: str) -> dict | None: ...
    def list_orders(self, status: str | None = None) -> list[dict]: ...
    def status(self) -> dict: ...
    def ambiguity(self, kind: str, key: str) -> str | None: ...
    def problems(self) -> dict: ...


class StationCatalog:
    def __init__(self, cache: ReferenceRows, local_order: Callable[[str], dict | None] = lambda _id: None,
                 wms_order: Callable[[str], dict | None] = lambda _id: None):
        self.cache = cache
        self.local_order = local_order
        self.wms_order = wms_order  # the WMS's last word on an order it held, cancelled or changed

    def ambiguity(self, kind: str, code: str) -> str | None:
        """Why a badge, order id or tote cannot be resolved (two employees with one badge, …), or None."""
        return self.cache.ambiguity(kind, code)

    @staticmethod
    def _build(kind: Any, row: dict | None) -> Any:
        if row is None:
            return None
        try:
            return kind.from_dict(row)
        except ReferenceDataError as exc:
            log.warning("skipping bad reference row: %s", exc)
            return None

    def sku(self, code: str) -> Sku | None:
        code = code.strip()
        row = self.cache.get_sku(code)
        if row is None and gtin14(code):
            row = self.cache.sku_by_gtin(code)
        return self._build(Sku, row)

    def lots_for(self, sku: str) -> tuple[Lot, ...]:
        lots = (self._build(Lot, row) for row in self.cache.lots_for_sku(sku))
        return tuple(lot for lot in lots if lot is not None)

    def packaging(self, code: str) -> Packaging | None:
        return self._build(Packaging, self.cache.get_packaging(code.strip()))

    def employee_by_badge(self, uid: str) -> Employee | None:
        return self._build(Employee, self.cache.employee_by_badge(canonical_badge(uid)))

    def employee_by_id(self, employee_id: str) -> Employee | None:
        return self._build(Employee, self.cache.employee_by_id(employee_id))

    def order(self, code: str) -> Order | None:
        code = code.strip()
        row = self.cache.get_order(code)
        if row is None:
            row = self.cache.order_by_tote(code)
        order = self._build(Order, row)
        return self.with_local_state(order) if order else None

    def with_local_state(self, order: Order) -> Order:
        wms = self.wms_order(order.order_id)
        if wms and wms.get("lines"):
            try:
                order = replace(order, lines=tuple(OrderLine.from_dict(line) for line in wms["lines"]))
            except ReferenceDataError as exc:
                log.warning("skipping the WMS's new lines of %s: %s", order.order_id, exc)
        local = self.local_order(order.order_id)
        if wms and wms.get("status") in STOPPING:
            return replace(order, status=wms["status"])
        if not local:
            return order
        status = local["status"] if local["status"] in LOCAL_STATUSES else order.status
        return replace(order, status=status, priority=max(order.priority, local.get("priority") or 0))

    def orders(self, status: str | None = None) -> list[Order]:
        built = (self._build(Order, row) for row in self.cache.list_orders(status))
        return [self.with_local_state(o) for o in built if o is not None]

    def all_lots(self) -> list[Lot]:
        """Every lot in the cache (the supervisor's expiry list)."""
        return [lot for lot in (self._build(Lot, r) for r in self.cache.list_lots()) if lot is not None]

    def employees(self) -> list[Employee]:
        return [e for e in (self._build(Employee, r) for r in self.cache.list_employees()) if e is not None]
