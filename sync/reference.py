"""A local mirror of upstream reference data, pulled incrementally with a cursor.

``refresh()`` pulls ``/v1/reference?since=<cursor>`` page by page; each page and the new
cursor commit in one transaction. ``refresh_orders()`` is the fast pull of the orders alone
(``/v1/orders/changes`` after a cursor of its own, every ``upstream.orders_s``): a hold, a cancellation
or a change reaches the table within about a second without reading the rest (订单拦截); an order
row older than the one stored (a slow page read before a fast pull) never replaces it. A failing refresh is logged and recorded in health
(``ref.last_error``) and the cache keeps serving what it has: a station works a whole shift
offline. The cache writes only its own ``ref_*`` tables — the station's own order state
(picked, packed …) lives in the station's tables and is never clobbered; to merge, pass
``on_update(conn, changes)``, called inside the refresh transaction with the changed rows.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import contextmanager
from datetime import timedelta
from typing import Callable, Iterator

from packgate.device.clock import Clock, isoformat
from packgate.device.codes import canonical_badge, gtin14
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import DbSpec, factory, write_tx
from packgate.sync.common.pool import Pool
from packgate.sync.common.sealing import KeyRing, ring_of
from packgate.sync.errors import BadResponseError, SyncError, UpstreamError
from packgate.sync.reference_screen import KINDS, OPEN_STATUSES, badge_clash, clashes, is_older, screen, tote_clash
from packgate.sync.schema import get_meta, set_meta, upgrade

log = logging.getLogger(__name__)

UpdateHook = Callable[[sqlite3.Connection, dict], None]
CHUNK = 1000  # rows per write transaction
PRUNE_DAYS = 14
MAX_ORDER_PAGES = 20  # a fast pull reads at most this many pages; the rest next time
POOL_KEPT = 16  # idle connections kept for the readers of the reference data


class ReferenceCache:
    """``ReferenceCache(conn_factory or db_path, client, clock)``; ``refresh()`` then read methods."""

    def __init__(self, db: DbSpec, client: UpstreamClient | None, clock: Clock | None = None, *,
                 page_limit: int | None = None, on_update: UpdateHook | None = None):
        self._connect = factory(db)
        self.client = client
        self.clock = clock or Clock()
        self.page_limit = page_limit
        self.on_update = on_update
        self._conns: Pool[sqlite3.Connection] = Pool(self._connect, lambda conn: conn.close(), keep=POOL_KEPT)
        with self._using(None) as conn:
            upgrade(conn, self.clock)
            self.ring: KeyRing = ring_of(conn)  # personal fields are sealed in the file (sync.common.sealing)

    # ---- pulling --------------------------------------------------------------------------
    def refresh(self, *, raise_errors: bool = False) -> dict:
        """Pull changes since the cursor; returns ``{"ok", "changed", "rejected", "cursor", "error"}`` (never raises
        on upstream trouble unless ``raise_errors``).

        The network call and the JSON parsing happen outside any transaction; the rows are then written in
        chunks of ``CHUNK`` rows, so a huge page never holds the database's write lock for long (the station's
        taps wait for it). The page's cursor commits with its last chunk. A page answering ``more`` without
        moving its cursor, or without a cursor, is an error (the refresh loop backs off) — never a loop."""
        with self._using(None) as conn:
            changed = {kind: 0 for kind in KINDS}
            rejected = 0
            cursor = get_meta(conn, "ref.cursor").get("ref.cursor")
            try:
                if self.client is None:
                    raise SyncError("no upstream configured")
                while True:
                    page = self.client.get_reference(since=cursor, limit=self.page_limit)
                    new_cursor = page.get("cursor")
                    if new_cursor is None or isinstance(new_cursor, (dict, list, bool)) or str(new_cursor) == "":
                        raise BadResponseError(f"reference page has no usable cursor ({new_cursor!r})")
                    new_cursor = str(new_cursor)
                    if page.get("more") and new_cursor == cursor:
                        raise BadResponseError(f"reference page says more but its cursor did not move from {cursor!r}")
                    rejected += self._apply(conn, page, changed, {"ref__cursor": new_cursor})
                    cursor = new_cursor
                    if not page.get("more"):
                        break
                self._prune(conn)
            except (UpstreamError, SyncError, KeyError, TypeError, ValueError) as exc:
                message = f"{type(exc).__name__}: {exc}"
                log.warning("reference refresh failed, serving cached data: %s", message)
                with write_tx(conn):
                    set_meta(conn, ref__last_attempt=isoformat(self.clock.now()), ref__last_error=message)
                if raise_errors:
                    raise
                return {"ok": False, "changed": changed, "rejected": rejected, "cursor": cursor, "error": message}
            return {"ok": True, "changed": changed, "rejected": rejected, "cursor": cursor, "error": None}

    def refresh_orders(self) -> dict:
        """Pull the orders changed since the fast pull's cursor (``ref.orders_cursor``; at first the full refresh's):
        ``{"ok", "changed", "cursor", "error"}``. Nothing is pulled before the first full refresh. A failure is
        logged once per run of failures and recorded in ``ref.orders_error``; the cache serves what it has."""
        changed = {kind: 0 for kind in KINDS}
        with self._using(None) as conn:
            meta = get_meta(conn, "ref.")
            cursor = meta.get("ref.orders_cursor") or meta.get("ref.cursor")
            if cursor is None or self.client is None:
                return {"ok": False, "changed": 0, "cursor": cursor, "error": "no reference data yet"}
            try:
                for _ in range(MAX_ORDER_PAGES):
                    page = self.client.get_order_changes(since=cursor, limit=self.page_limit)
                    new_cursor = str(page["cursor"])
                    if page.get("more") and new_cursor == cursor:
                        raise BadResponseError(f"order changes say more but the cursor did not move from {cursor!r}")
                    self._apply(conn, {"orders": page["orders"]}, changed, {"ref__orders_cursor": new_cursor})
                    cursor = new_cursor
                    if not page.get("more"):
                        break
            except (UpstreamError, SyncError, KeyError, TypeError, ValueError) as exc:
                message = f"{type(exc).__name__}: {exc}"
                if meta.get("ref.orders_error") is None:
                    log.warning("pulling order changes failed, working from the cache: %s", message)
                if meta.get("ref.orders_error") != message:  # offline: one write per new problem, not per second
                    with write_tx(conn):
                        set_meta(conn, ref__orders_error=message)
                return {"ok": False, "changed": changed["orders"], "cursor": cursor, "error": message}
            if meta.get("ref.orders_error") is not None:
                with write_tx(conn):
                    set_meta(conn, ref__orders_error=None)
            return {"ok": True, "changed": changed["orders"], "cursor": cursor, "error": None}

    def _apply(self, conn: sqlite3.Connection, page: dict, changed: dict[str, int], cursors: dict[str, str]) -> int:
        """Screen the page, store what is usable in chunks, keep the rest for review; returns how many were refused."""
        stamp = isoformat(self.clock.now())
        kept, refused = screen(conn, page)
        kept["orders"] = [row for row in kept["orders"] if not is_older(row, self.get_order(row["order_id"], conn))]
        work = [(kind, row) for kind in KINDS for row in kept[kind]]
        chunks = [work[i:i + CHUNK] for i in range(0, len(work), CHUNK)] or [[]]
        for n, chunk in enumerate(chunks):
            with write_tx(conn):
                for kind, row in chunk:
                    _STORE[kind](conn, self.ring.seal_record(row))
                if n == len(chunks) - 1:
                    for r in refused:
                        conn.execute("INSERT INTO ref_rejected (at, kind, key, reason, data) VALUES (?, ?, ?, ?, ?)",
                                     (stamp, r.kind, r.key, r.reason,
                                      self.ring.seal(json.dumps(r.row, default=str)[:4000])))
                        if r.ambiguous:
                            conn.execute("INSERT OR REPLACE INTO ref_ambiguous (kind, key, reason, at) VALUES (?, ?, ?, ?)",
                                         (r.ambiguous, r.key, r.reason, stamp))
                    if self.on_update is not None:
                        self.on_update(conn, kept)
                    if "ref__cursor" in cursors:
                        set_meta(conn, ref__last_refresh=stamp, ref__last_attempt=stamp, ref__last_error=None)
                    set_meta(conn, **cursors)
        for kind in KINDS:
            changed[kind] += len(kept[kind])
        if refused:
            log.warning("reference rows refused: %d (%s)", len(refused), "; ".join(r.reason for r in refused[:3]))
        return len(refused)

    def _prune(self, conn: sqlite3.Connection) -> None:
        """Closed orders not updated for ``PRUNE_DAYS`` and old review rows leave the cache."""
        horizon = isoformat(self.clock.now() - timedelta(days=PRUNE_DAYS))
        with write_tx(conn):
            conn.execute("DELETE FROM ref_orders WHERE status IN ('packed', 'shipped', 'cancelled', 'closed') "
                         "AND COALESCE(json_extract(data, '$.updated_at'), '') < ?", (horizon,))
            conn.execute("DELETE FROM ref_rejected WHERE at < ?", (horizon,))

    def status(self, conn: sqlite3.Connection | None = None) -> dict:
        with self._using(conn) as c:
            meta = get_meta(c, "ref.")
            return {"cursor": meta.get("ref.cursor"), "last_refresh": meta.get("ref.last_refresh"),
                    "last_attempt": meta.get("ref.last_attempt"), "last_error": meta.get("ref.last_error"),
                    "rejected": c.execute("SELECT COUNT(*) FROM ref_rejected").fetchone()[0],
                    "ambiguous": c.execute("SELECT COUNT(*) FROM ref_ambiguous").fetchone()[0] + len(clashes(c))}

    def problems(self, conn: sqlite3.Connection | None = None, limit: int = 100) -> dict:
        """For supervisors: what is ambiguous (refused at the table) and the refused rows, newest first."""
        with self._using(conn) as c:
            marked = [dict(r) for r in c.execute("SELECT kind, key, reason FROM ref_ambiguous ORDER BY at DESC")]
            return {"ambiguous": marked + clashes(c),
                    "rejected": [dict(r) for r in c.execute("SELECT at, kind, key, reason FROM ref_rejected ORDER BY id DESC "
                                                            "LIMIT ?", (limit,))]}

    def ambiguity(self, kind: str, key: str, conn: sqlite3.Connection | None = None) -> str | None:
        """Why ``key`` (a badge, an order id or a tote) cannot be resolved, or None."""
        with self._using(conn) as c:
            if kind == "badge":
                return badge_clash(c, key)
            if kind == "tote":
                return tote_clash(c, key)
            row = c.execute("SELECT reason FROM ref_ambiguous WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            return row[0] if row else None

    # ---- reads ----------------------------------------------------------------------------
    def get_order(self, order_id: str, conn: sqlite3.Connection | None = None) -> dict | None:
        if self.ambiguity("order", order_id, conn):
            return None
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
        """The one open order in this tote; None when none or when two open orders share it (``ambiguity``)."""
        if self.ambiguity("tote", tote, conn):
            return None
        rows = self._many("SELECT data FROM ref_orders WHERE json_extract(data, '$.tote') = ? "
                          f"AND COALESCE(status, 'open') IN {OPEN_STATUSES} ORDER BY order_id LIMIT 2", (tote,), conn)
        return rows[0] if len(rows) == 1 else None

    def list_lots(self, conn: sqlite3.Connection | None = None) -> list[dict]:
        """Every lot (e.g. the supervisor's near-expiry list), by SKU then lot."""
        return self._many("SELECT data FROM ref_lots ORDER BY sku, lot", (), conn)

    def get_packaging(self, code: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_packaging WHERE code = ?", (code,), conn)

    def list_packaging(self, conn: sqlite3.Connection | None = None) -> list[dict]:
        return self._many("SELECT data FROM ref_packaging ORDER BY code", (), conn)

    def employee_by_badge(self, uid: str, conn: sqlite3.Connection | None = None) -> dict | None:
        """The one employee with this badge; None when none, or when the badge is ambiguous (``ambiguity``)."""
        if self.ambiguity("badge", uid, conn):
            return None
        rows = self._many("SELECT data FROM ref_employees WHERE badge_uid = ? LIMIT 2", (canonical_badge(uid),), conn)
        return rows[0] if len(rows) == 1 else None

    def employee_by_id(self, employee_id: str, conn: sqlite3.Connection | None = None) -> dict | None:
        return self._one("SELECT data FROM ref_employees WHERE employee_id = ?", (employee_id,), conn)

    def list_employees(self, role: str | None = None, conn: sqlite3.Connection | None = None) -> list[dict]:
        rows = self._many("SELECT data FROM ref_employees ORDER BY employee_id", (), conn)
        return [r for r in rows if role is None or r.get("role") == role]

    # ---- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _using(self, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        """The caller's connection (inside its transaction), or one of the pool's."""
        if conn is not None:
            yield conn
            return
        with self._conns.lease() as own:
            yield own

    def close(self) -> None:
        """Close the pool's connections (on shutdown)."""
        self._conns.close_all()

    def _one(self, sql: str, args: tuple, conn: sqlite3.Connection | None) -> dict | None:
        with self._using(conn) as c:
            row = c.execute(sql, args).fetchone()
        return self.ring.open_record(json.loads(row[0])) if row else None

    def _many(self, sql: str, args: tuple, conn: sqlite3.Connection | None) -> list[dict]:
        with self._using(conn) as c:
            return [self.ring.open_record(json.loads(row[0])) for row in c.execute(sql, args)]


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
    "rmas": _put("INSERT OR REPLACE INTO ref_rmas (rma_id, order_id, waybill, status, data) VALUES (?, ?, ?, ?, ?)",
                 lambda r: r["rma_id"], lambda r: r["order_id"], lambda r: r.get("waybill"), lambda r: r.get("status")),
    "orders": _put("INSERT OR REPLACE INTO ref_orders (order_id, status, priority, data) VALUES (?, ?, ?, ?)",
                   lambda r: r["order_id"], lambda r: r.get("status"), lambda r: int(r.get("priority") or 0)),
    "carriers": lambda conn, row: None,  # the carrier rules are the station's (``on_update``: station/carriers.py)
}

