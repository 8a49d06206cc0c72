"""The WMS's decisions about an order after the floor started on it (订单拦截): hold, release, cancel, change.

Each decision is one upsert of the order's record (``store.upsert_reference``), so it bumps the change counter and
reaches the floor through ``GET /v1/orders/changes`` (the fast pull of the hub and of a standalone station) and
the reference data. The words are the station's (``packgate.station.core.order_state``), as plain strings.

Invariants: ``status_at`` is the decision's time from the server's clock and ``status_reason`` its reason (a hold
and a cancel need one); ``revision`` goes up by one when the lines, the address or the carrier change, never
otherwise. A shipped order cannot be held, cancelled or changed, nor a cancelled one brought back; a packed
parcel can be held or cancelled (it is stopped at the dock) but not changed (cancel it instead); a release needs
a held order. Each refusal is a ``DecisionRefused`` with the HTTP status to answer (404 unknown order, 409 not
now, 400 bad body).
"""
from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from packgate.device.clock import isoformat
from packgate.sync.upstream import store

DECISIONS = ("hold", "release", "cancel", "change")
CONTENT = ("lines", "address", "ship_to", "carrier")  # what a change may replace (each bumps the revision)
FINAL = ("shipped", "cancelled")
TEXT_MAX = 500


class DecisionRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def decide(conn: sqlite3.Connection, order_id: str, decision: str, body: Any, now: datetime) -> dict:
    """Apply ``decision`` to the order inside the caller's transaction; returns the new order record."""
    if decision not in DECISIONS:
        raise DecisionRefused(404, f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    if not isinstance(body, dict):
        raise DecisionRefused(400, 'expected a JSON object, e.g. {"reason": "customer refund"}')
    order = store.get_reference(conn, "orders", order_id)
    if order is None:
        raise DecisionRefused(404, f"unknown order {order_id}")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > TEXT_MAX):
        raise DecisionRefused(400, f"reason must be a text of at most {TEXT_MAX} characters")
    reason = (reason or "").strip() or None
    status = str(order.get("status") or "open")
    if status in FINAL and not (decision == "cancel" and status == "cancelled"):
        raise DecisionRefused(409, f"order {order_id} is {status}: it cannot be {_past(decision)} any more")
    if decision in ("hold", "cancel") and reason is None:
        raise DecisionRefused(400, f"a {decision} needs a reason (the floor reads it)")
    new = dict(order)
    if decision == "hold":
        if status == "held":
            return order
        new.update(status="held", status_reason=reason, held_from=status)
    elif decision == "cancel":
        if status == "cancelled":
            return order
        new.update(status="cancelled", status_reason=reason)
    elif decision == "release":
        if status != "held":
            raise DecisionRefused(409, f"order {order_id} is {status}, not held: there is nothing to release")
        new.update(status=str(order.get("held_from") or "open"), status_reason=reason)
        new.pop("held_from", None)
    else:
        if status == "packed":
            raise DecisionRefused(409, f"order {order_id} is packed: cancel it instead (the dock stops it)")
        given = {k: body[k] for k in CONTENT if k in body}
        if not given:
            raise DecisionRefused(400, f"a change names at least one of {', '.join(CONTENT)}")
        lines = given.get("lines")
        if lines is not None and not _good_lines(lines):
            raise DecisionRefused(400, 'lines must be a non-empty list of {"sku": "...", "qty": 1 or more}')
        new.update(given)
        if reason is not None:
            new["status_reason"] = reason
    new["status_at"] = isoformat(now)
    store.upsert_reference(conn, "orders", [new], now)
    return store.get_reference(conn, "orders", order_id) or new


def _good_lines(lines: Any) -> bool:
    return isinstance(lines, list) and bool(lines) and all(
        isinstance(line, dict) and isinstance(line.get("sku"), str) and line["sku"]
        and isinstance(line.get("qty"), int) and not isinstance(line["qty"], bool) and line["qty"] >= 1
        for line in lines)


def _past(decision: str) -> str:
    return {"hold": "held", "release": "released", "cancel": "cancelled", "change": "changed"}[decision]
