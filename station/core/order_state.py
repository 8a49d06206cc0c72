"""The WMS's word on an order after the floor started on it (订单拦截): the one vocabulary of interception.

The WMS's order record carries ``status`` (open, picking, picked, packed, shipped … and the two that stop the
floor: ``held`` and ``cancelled``), ``status_reason``, ``status_at`` (ISO 8601 with offset, set by the WMS when
it holds, cancels, releases or changes it) and ``revision`` (bumped when the lines, the address or the carrier change). The
hub publishes each such decision on its feed as an ``order_status`` event carrying the same fields (and the new
lines, address and carrier); a table records each step it stopped as one ``intercept`` confirmation; the WMS
refuses a ``pack``, ``ship_load`` or ``manifest`` of a cancelled order with the rejection code
``order_cancelled``. The hub and the reference WMS may not import the station: they use these words as plain
strings, and ``tests/sync/test_interception_words.py`` checks that they agree.

Invariants: a held or cancelled order stops every step (``WmsWord.stops``); a release (held -> open) lets the
floor go on; a change stops nothing by itself, it re-opens verification (``line_changes`` says what to add and
what to take out). A row the WMS never held, cancelled, released or changed is not ``noteworthy``: the floor
keeps no copy of it. ``intercepted``/``interception`` read the same words from a plain status string or a WMS
order record (the dock, the hub's parcel register); an unknown or missing status intercepts nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Mapping

from packgate.device.clock import isoformat, parse_iso
from packgate.station.core.models import OrderLine
from packgate.station.errors import ReferenceDataError

OPEN, PICKED, PACKED, SHIPPED = "open", "picked", "packed", "shipped"
HELD, CANCELLED = "held", "cancelled"
STOPPING = frozenset({HELD, CANCELLED})  # the WMS statuses that stop every step at every table
#: the statuses the WMS sets on its own order record (the floor's stages are the hub's ``STAGES``)
WMS_STATUSES = (OPEN, "picking", PICKED, PACKED, SHIPPED, HELD, CANCELLED)
#: STOPPING, also in the other spelling some WMSs write
INTERCEPTING = frozenset({*STOPPING, "canceled"})
#: the fields of the interception block of a WMS order record (``status_at``: ISO 8601 with offset)
REASON, AT, REVISION = "status_reason", "status_at", "revision"
INTERCEPT = "intercept"  # the confirmation of a stopped step: payload {step, status, reason, at, revision}
ORDER_STATUS_EVENT = "order_status"  # the hub's feed event of a WMS decision
ORDER_CANCELLED = "order_cancelled"  # the WMS's rejection code for a pack / ship_load / manifest of a cancelled order
REFUSED_WHEN_CANCELLED = ("pack", "ship_load", "load", "manifest")  # the actions that would undo a cancellation
DECISIONS = ("held", "cancelled", "released", "changed")  # what an ``order_status`` event says happened
# the steps a table can stop (the ``step`` of an ``intercept`` confirmation): the pack machine's events, the label
# desk's request and print, and the dock's scan and close
STEPS = ("open_order", "scan_item", "choose_packaging", "second_badge", "fifo_take_older", "put_back",
         "fifo_override", "weigh", "reweigh", "supervisor_override", "pack", "close_carton", "label_request",
         "print", "label_printed", "scan_label", "reprint", "dock_scan", "dock_close")


@dataclass(frozen=True)
class WmsWord:
    """What the WMS last said about one order: its status and why, when, and the revision of its contents."""

    order_id: str
    status: str
    reason: str | None = None
    at: datetime | None = None
    revision: int = 1
    lines: tuple[OrderLine, ...] | None = None
    carrier: str | None = None
    address: Any = None

    @property
    def stops(self) -> bool:
        return self.status in STOPPING

    @property
    def noteworthy(self) -> bool:
        """Held, cancelled, released (a decision time) or changed (revision above 1): worth keeping on the floor."""
        return self.stops or self.at is not None or self.revision > 1

    @property
    def mark(self) -> str:
        """One decision of the WMS: a step stopped twice by the same decision is recorded once."""
        return f"{self.status}@{isoformat(self.at) if self.at else '-'}#r{self.revision}"

    def quantities(self) -> dict[str, int] | None:
        if self.lines is None:
            return None
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.qty
        return totals

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "WmsWord":
        """From the WMS's order record (reference data) or the hub's ``order_status`` event; a malformed row
        raises ``ReferenceDataError`` naming the field."""
        order_id = row.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise ReferenceDataError("order status: order_id must be a non-empty string")
        status = row.get("status") or OPEN
        if not isinstance(status, str):
            raise ReferenceDataError(f"order {order_id!r}: status must be a string (got {status!r})")
        reason = row.get("status_reason", row.get("reason"))
        at_text = row.get("status_at", row.get("at"))
        try:
            at = parse_iso(at_text) if at_text else None
        except (TypeError, ValueError) as exc:
            raise ReferenceDataError(f"order {order_id!r}: status_at: {exc}") from None
        revision = row.get("revision", 1)
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
            raise ReferenceDataError(f"order {order_id!r}: revision must be a whole number (got {revision!r})")
        lines = row.get("lines")
        parsed = None
        if lines is not None:
            if not isinstance(lines, list) or not lines:
                raise ReferenceDataError(f"order {order_id!r}: lines must be a non-empty list")
            parsed = tuple(OrderLine.from_dict(line) for line in lines)
        carrier = row.get("carrier")
        return cls(order_id, status, str(reason) if reason else None, at, revision, parsed,
                   carrier if isinstance(carrier, str) else None, row.get("address", row.get("ship_to")))

    def as_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "status": self.status, "reason": self.reason,
                "at": isoformat(self.at) if self.at else None, "revision": self.revision,
                "lines": [line.as_dict() for line in self.lines] if self.lines is not None else None,
                "carrier": self.carrier, "address": self.address}


def decision(before: WmsWord | None, after: WmsWord) -> str | None:
    """What changed from ``before`` to ``after`` (one of ``DECISIONS``), or None when nothing the floor acts on."""
    if after.stops and (before is None or before.status != after.status or before.at != after.at):
        return after.status
    if before is not None and before.stops and not after.stops:
        return "released"
    if after.revision > (before.revision if before is not None else 1):
        return "changed"
    return None


def line_changes(counted: Mapping[str, int], lines: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(to add, to take out) per SKU when the units ``counted`` must match the order's new ``lines``."""
    add = {sku: qty - counted.get(sku, 0) for sku, qty in lines.items() if qty > counted.get(sku, 0)}
    take_out = {sku: n - lines.get(sku, 0) for sku, n in counted.items() if n > lines.get(sku, 0)}
    return add, take_out


def clock_time(at: datetime | None, tz: tzinfo | None) -> str:
    """The decision's time as the floor reads it: HH:MM in the station's time zone ("-" when not said)."""
    return at.astimezone(tz).strftime("%H:%M") if at is not None else "-"


def intercepted(status: Any) -> bool:
    """True when a WMS order status stops every next step for the order."""
    return isinstance(status, str) and status.lower() in INTERCEPTING


def interception(order: Mapping[str, Any] | None) -> dict[str, str] | None:
    """``{"status", "reason", "at"}`` of a WMS order record that is intercepted, else None."""
    if not order or not intercepted(order.get("status")):
        return None
    return {"status": str(order["status"]).lower(), "reason": str(order.get(REASON) or ""),
            "at": str(order.get(AT) or "")}
