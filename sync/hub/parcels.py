"""The site's parcels (the SQL of the dock; ``store.py`` holds the rest): every carton's waybill and state, packed
where and by whom, and which dock batch holds it.

Invariants: one ``hub_parcels`` row per order, written in the transaction that applies its ``pack`` (so the hub knows
a parcel as soon as it knows the order is packed); every waybill of the order's cartons resolves to it
(``hub_waybills``). A parcel is held by at most one dock batch: ``hold`` takes it with one conditional ``UPDATE``
(no batch yet, or this one) like an order claim, so two dock terminals of the site can never both hand it over;
a hold is given back only by the batch that took it, before it is closed. The hub decides nothing else here: the
station's dock rules (``station/core/dock.py``) judge the facts ``hold`` returns (stage, WMS status, carrier, batch).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from packgate.device.clock import isoformat
from packgate.sync.hub.engine import Conn


def packed(conn: Conn, order_id: str, station: str, operator: str | None, waybill: Any, at: str,
           shipped: bool) -> None:
    """A carton of ``order_id`` was packed at ``station`` (its ``pack`` confirmation); ``shipped``: weigh-and-ship."""
    label = waybill if isinstance(waybill, str) and waybill else None
    conn.execute("INSERT INTO hub_parcels (order_id, waybill, station, operator, packed_at, shipped_at)"
                 " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
                 " waybill = COALESCE(hub_parcels.waybill, excluded.waybill),"
                 " shipped_at = COALESCE(hub_parcels.shipped_at, excluded.shipped_at)",
                 (order_id, label, station, operator, at, at if shipped else None))
    if label is not None:
        conn.execute("INSERT INTO hub_waybills (waybill, order_id) VALUES (?, ?) ON CONFLICT (waybill) DO NOTHING",
                     (label, order_id))


def get(conn: Conn, order_id: str) -> dict[str, Any] | None:
    return conn.one("SELECT order_id, waybill, station, operator, packed_at, batch_id, batch_station, held_at,"
                    " held_by, shipped_at FROM hub_parcels WHERE order_id = ?", (order_id,))


def order_of(conn: Conn, code: str) -> tuple[str | None, str | None]:
    """(order id, waybill) a label names: one of the site's waybills, or the order id itself."""
    by_waybill = conn.value("SELECT order_id FROM hub_waybills WHERE waybill = ?", (code,))
    if by_waybill is not None:
        return str(by_waybill), code
    known = conn.value("SELECT order_id FROM hub_orders WHERE order_id = ?", (code,)) or \
        conn.value("SELECT key FROM hub_ref WHERE kind = 'orders' AND key = ?", (code,))
    return (str(known), None) if known is not None else (None, None)


def hold(conn: Conn, order_id: str, batch_id: str, station: str, operator: str | None, now: datetime) -> bool:
    """Take the packed, unshipped parcel for ``batch_id`` if no batch holds it; True when taken by this call."""
    row = conn.one("UPDATE hub_parcels SET batch_id = ?, batch_station = ?, held_at = ?, held_by = ?"
                   " WHERE order_id = ? AND batch_id IS NULL AND shipped_at IS NULL RETURNING order_id",
                   (batch_id, station, isoformat(now), operator, order_id))
    return row is not None


def give_back(conn: Conn, order_id: str, batch_id: str) -> bool:
    """The batch that holds the parcel lets it go (it refused it after all); False when it did not hold it."""
    rows = conn.execute("UPDATE hub_parcels SET batch_id = NULL, batch_station = NULL, held_at = NULL, held_by = NULL"
                        " WHERE order_id = ? AND batch_id = ? AND shipped_at IS NULL RETURNING order_id",
                        (order_id, batch_id))
    return bool(rows)


def shipped(conn: Conn, order_id: str, batch_id: Any, station: str, at: str) -> dict[str, Any] | None:
    """A ``ship_load`` handed the parcel over in ``batch_id``; returns the parcel as it was before (None: unknown)."""
    before = get(conn, order_id)
    if before is None:
        return None
    batch = batch_id if isinstance(batch_id, str) and batch_id else None
    conn.execute("UPDATE hub_parcels SET shipped_at = COALESCE(shipped_at, ?), batch_id = COALESCE(batch_id, ?),"
                 " batch_station = COALESCE(batch_station, ?) WHERE order_id = ?", (at, batch, station, order_id))
    return before
