"""The vocabulary of an order's life as the WMS decides it (interception, 订单拦截), in one place, pure.

The WMS's order record (``sync/upstream/store.py``, kind ``orders``) carries ``status``; the hub passes the same
words on (its reference mirror and its ``order_status`` feed events) and the station reads them from its reference
rows. Hub and upstream do not import the station: they use these plain strings, and this module is where a word is
added. Invariants: ``held`` and ``cancelled`` stop every next step for the order (it is *intercepted*); a held
order may be released by the WMS (back to ``open``), a cancelled one never comes back; an unknown or missing status
intercepts nothing (the station keeps working from what it knows).
"""
from __future__ import annotations

from typing import Any, Mapping

OPEN, PICKED, PACKED, SHIPPED = "open", "picked", "packed", "shipped"
HELD, CANCELLED = "held", "cancelled"
#: the statuses the WMS sets on its own order record (the floor's stages are the hub's ``STAGES``)
WMS_STATUSES = (OPEN, "picking", PICKED, PACKED, SHIPPED, HELD, CANCELLED)
#: the WMS decided the order must not go on: every step for it is refused
INTERCEPTING = frozenset({HELD, CANCELLED, "canceled"})
#: the fields of the interception block of a WMS order record (``status_at``: ISO 8601 with offset)
REASON, AT, REVISION = "status_reason", "status_at", "revision"


def intercepted(status: Any) -> bool:
    """True when a WMS order status stops every next step for the order."""
    return isinstance(status, str) and status.lower() in INTERCEPTING


def interception(order: Mapping[str, Any] | None) -> dict[str, str] | None:
    """``{"status", "reason", "at"}`` of a WMS order record that is intercepted, else None."""
    if not order or not intercepted(order.get("status")):
        return None
    return {"status": str(order["status"]).lower(), "reason": str(order.get(REASON) or ""),
            "at": str(order.get(AT) or "")}
