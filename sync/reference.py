"""A local mirror of upstream reference data, pulled incrementally with a cursor.

``refresh()`` pulls ``/v1/reference?since=<cursor>`` page by page; each page and the new
cursor commit in one transaction. A failing refresh is logged and recorded in health
(``ref.last_error``) and the cache keeps serving what it has: a station works a whole shift
offline. The cache writes only its own ``ref_*`` tables — the station's own order state
(picked, packed …) lives in the station's tables and is never clobbered; to merge, pass
``on_update(conn, changes)``, called inside the refresh transaction with the changed rows.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from typing import Callable

from packgate.device.clock import Clock, isoformat
from packgate.device.codes import canonical_badge, gtin14
from packgate.sync.client import UpstreamClient
from packgate.sync.db import DbSpec, factory, write_tx
from packgate.sync.errors import SyncError, UpstreamError
from packgate.sync.schema import ensure_schema, get_meta, set_meta

log = logging.getLogger(__name__)

UpdateHook = Callable[[sqlite3.Connection, dict], None]


class ReferenceCache:
    """``ReferenceCache(conn_factory or db_path, client, clock)``; ``refresh()`` then read methods."""

    def __init__(self, db: DbSpec, client: UpstreamClient | None, clock: Clock | None = None, *,
                 page_limit: int | None = None, on_update: UpdateHook | None = None):
        self._connect = factory(db)
        self.client = client
        self.clock = clock or Clock()
        self.page_limit = page_limit
        self.on_update = on_update
        self._local = threading.local()
        ensure_schema(self._db())

    # ---- pulling --------------------------------------------------------------------------
    def refresh(self, *, raise_errors: bool = False) -> dict:
        """Pull changes since the cursor; returns ``{"ok", "changed", "cursor", "error"}`` (never raises
        on upstream trouble unless ``raise_errors``)."""
        conn = self._db()
        changed = {kind: 0 for kind in ("skus", "lots", "packaging", "employees", "orders")}
        cursor = get_meta(conn, "ref.cursor").get("ref.cursor")
        try:
            if self.client is None:
                raise SyncError("no upstream configured")
            while True:
                page = self.client.get_reference(since=cursor, limit=self.page_limit)
                with write_tx(conn):
                    for kind in changed:
                        rows = page.get(kind) or []
                        for row in rows:
                            _STORE[kind](conn, row)
                        changed[kind] += len(rows)
                    if self.on_update is not None:
                        self.on_update(conn, {kind: page.get(kind) or [] for kind in changed})
                    cursor = str(page["cursor"])
                    stamp = isoformat(self.clock.now())
                    set_meta(conn, ref__cursor=cursor, ref__last_refresh=stamp, ref__last_attempt=stamp,
                             ref__last_error=None)
                if not page.get("more"):
                    break
        except (UpstreamError, SyncError, KeyError, TypeError, ValueError) as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.warning("reference refresh failed, serving cached data: %s", message)
            with write_tx(conn):
                set_meta(conn, ref__last_attempt=isoformat(self.clock.now()), ref__last_error=message)
            if raise_errors:
                raise
            return {"ok": False, "changed": changed, "cursor": cursor, "error": message}
        return {"ok": True, "changed": changed, "cursor": cursor, "error": None}

    def status(self, conn: sqlite3.Connection | None = None) -> dict:
        meta = get_meta(conn or self._db(), "ref.")
        return {"cursor": meta.get("ref.cursor"), "last_refresh": meta.get("ref.last_refresh"),
                "last_attempt": meta.get("ref.last_attempt"), "last_error": meta.get("ref.last_error")}

    # ---- reads ----------------------------------------------------------------------------
    def get_order(self, order_id: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_orders WHERE order_id = ?", (order_id,), conn)

    def list_orders(self, status: str | None = None, conn: sqlite3.Connection | None = None) -> list[dict]:
        if status is None:
            return self._many("SELECT data FROM ref_orders ORDER BY priority DESC, order_id", (), conn)
        return self._many("SELECT data FROM ref_orders WHERE status = ? ORDER BY priority DESC, order_id",
                          (status,), conn)

    def get_sku(self, sku: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_skus WHERE sku = ?", (sku,), conn)

    def sku_by_gtin(self, gtin: str, conn: sqlite3.Connection | None = None) -> dict | None:
        """Find a SKU by GTIN-8/12/13/14 (compared as zero-padded GTIN-14)."""
        return self._one("SELECT data FROM ref_skus WHERE gtin14 = ?", (gtin14(gtin) or "",), conn)

    def lots_for_sku(self, sku: str, conn: sqlite3.Connection | None = None) -> list[dict]:
        """Lots in the order they should be taken: FEFO by expiry, else FIFO by production date."""
        lots = self._many("SELECT data FROM ref_lots WHERE sku = ?", (sku,), conn)
        info = self.get_sku(sku, conn)
        if info and info.get("lot_policy") == "FEFO":
            lots.sort(key=lambda l: (l.get("expires") is None, l.get("expires") or "", l.get("produced") or "", l["lot"]))
        else:
            lots.sort(key=lambda l: (l.get("produced") or "", l["lot"]))
        return lots

    def order_by_tote(self, tote: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_orders WHERE json_extract(data, '$.tote') = ? ORDER BY order_id LIMIT 1",
                         (tote,), conn)

    def list_lots(self, conn: sqlite3.Connection | None = None) -> list[dict]:
        """Every lot (e.g. the supervisor's near-expiry list), by SKU then lot."""
        return self._many("SELECT data FROM ref_lots ORDER BY sku, lot", (), conn)

    def get_packaging(self, code: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_packaging WHERE code = ?", (code,), conn)

    def list_packaging(self, conn: sqlite3.Connection | None = None) -> list[dict]:
        return self._many("SELECT data FROM ref_packaging ORDER BY code", (), conn)

    def employee_by_badge(self, uid: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_employees WHERE badge_uid = ?", (canonical_badge(uid),), conn)

    def employee_by_id(self, employee_id: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_employees WHERE employee_id = ?", (employee_id,), conn)

    def list_employees(self, role: str | None = None, conn: sqlite3.Connection | None = None) -> list[dict]:
        rows = self._many("SELECT data FROM ref_employees ORDER BY employee_id", (), conn)
        return [r for r in rows if role is None or r.get("role") == role]

    # ---- plumbing -------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _one(self, sql: str, args: tuple, conn: sqlite3.Connection | None) -> dict | None:
        row = (conn or self._db()).execute(sql, args).fetchone()
        return json.loads(row[0]) if row else None

    def _many(self, sql: str, args: tuple, conn: sqlite3.Connection | None) -> list[dict]:
        return [json.loads(row[0]) for row in (conn or self._db()).execute(sql, args)]


def _put(sql: str, *fields: Callable[[dict], object]):
    def store(conn: sqlite3.Connection, row: dict) -> None:
        conn.execute(sql, (*(f(row) for f in fields), json.dumps(row, sort_keys=True, default=str)))
    return store


_STORE = {
    "skus": _put("INSERT OR REPLACE INTO ref_skus (sku, gtin14, data) VALUES (?, ?, ?)",
                 lambda r: r["sku"], lambda r: gtin14(r.get("gtin") or "") or ""),
    "lots": _put("INSERT OR REPLACE INTO ref_lots (sku, lot, data) VALUES (?, ?, ?)",
                 lambda r: r["sku"], lambda r: r["lot"]),
    "packaging": _put("INSERT OR REPLACE INTO ref_packaging (code, data) VALUES (?, ?)", lambda r: r["code"]),
    "employees": _put("INSERT OR REPLACE INTO ref_employees (employee_id, badge_uid, data) VALUES (?, ?, ?)",
                      lambda r: r["employee_id"], lambda r: canonical_badge(r.get("badge_uid") or "")),
    "orders": _put("INSERT OR REPLACE INTO ref_orders (order_id, status, priority, data) VALUES (?, ?, ?, ?)",
                   lambda r: r["order_id"], lambda r: r.get("status"), lambda r: int(r.get("priority") or 0)),
}
