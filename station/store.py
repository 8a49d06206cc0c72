"""Reads and writes of the station's own tables, in the same SQLite file as the outbox (their DDL: the schema
steps in ``station/migrations``).

Every write happens inside the caller's ``write_tx`` together with the outbox rows, so the
local state change and its confirmations commit (or roll back) as one.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from packgate.station import audit_chain
from packgate.sync.common.sealing import ring_of

MILESTONES = ("picked_at", "verified_at", "weighed_at", "packed_at", "synced_at", "cancelled_at")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def order_row(conn: sqlite3.Connection, order_id: str) -> dict | None:
    row = conn.execute("SELECT * FROM order_state WHERE order_id = ?", (order_id,)).fetchone()
    return dict(row) if row else None


def set_order(conn: sqlite3.Connection, order_id: str, at: str, **fields: Any) -> None:
    """Upsert the order's local state; milestone timestamps are only ever set once."""
    current = order_row(conn, order_id)
    if current is None:
        conn.execute("INSERT INTO order_state (order_id, status, updated_at) VALUES (?, ?, ?)",
                     (order_id, fields.get("status", "open"), at))
        current = order_row(conn, order_id) or {}
    updates = {k: v for k, v in fields.items() if not (k in MILESTONES and current.get(k))}
    updates["updated_at"] = at
    assignments = ", ".join(f"{k} = ?" for k in updates)
    conn.execute(f"UPDATE order_state SET {assignments} WHERE order_id = ?", (*updates.values(), order_id))


def back_to_queue(conn: sqlite3.Connection, order_id: str, at: str) -> None:
    """The order left this table unpacked: it waits again, picked if it was picked, else open."""
    local = order_row(conn, order_id) or {}
    set_order(conn, order_id, at, status="picked" if local.get("picked_at") else "open", blocked_reason=None,
              station=None)


UNFINISHED = ("open", "picking", "picked", "packing", "weighed", "blocked")  # neither packed nor cancelled


def picked_unpacked(conn: sqlite3.Connection) -> dict[str, str]:
    """order id -> picked_at of the orders picked and not yet packed or cancelled (a range of the status
    index: the orders packed earlier in the shift are never read)."""
    marks = ",".join("?" * len(UNFINISHED))
    rows = conn.execute(f"SELECT order_id, picked_at FROM order_state WHERE status IN ({marks})"
                        " AND picked_at IS NOT NULL", UNFINISHED)
    return {r[0]: r[1] for r in rows}


def escalations_of_unfinished(conn: sqlite3.Connection) -> list[dict]:
    """Every escalation (fired or acknowledged) of an order neither packed nor cancelled."""
    marks = ",".join("?" * len(UNFINISHED))
    return [dict(r) for r in conn.execute(
        "SELECT e.* FROM order_state s JOIN escalations e ON e.order_id = s.order_id"
        f" WHERE s.status IN ({marks})", UNFINISHED)]


def priority_orders(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    """Picked orders released to any packer by an escalation, highest priority first (an index range)."""
    rows = conn.execute("SELECT * FROM order_state WHERE status = 'picked' AND priority > 0"
                        " ORDER BY priority DESC, picked_at LIMIT ?", (limit,))
    return [dict(r) for r in rows]


def order_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Orders with local state, per status (read from the status index)."""
    return {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM order_state GROUP BY status")}


def milestones_page(conn: sqlite3.Connection, limit: int, after: tuple[str, str] | None = None,
                    station: str | None = None, stages: Iterable[str] | None = None,
                    updated_before: str | None = None) -> list[dict]:
    """Orders by last change, newest first: ``limit`` rows after the keyset ``after`` (updated_at, order_id),
    optionally of one station, of some stages (statuses), or unchanged since ``updated_before``."""
    where: list[str] = []
    args: list[Any] = []
    if after is not None:
        where.append("(updated_at, order_id) < (?, ?)")
        args += after
    if station:
        where.append("station = ?")
        args.append(station)
    chosen = tuple(stages or ())
    if chosen:
        where.append(f"status IN ({','.join('?' * len(chosen))})")
        args += chosen
    if updated_before:
        where.append("julianday(updated_at) <= julianday(?)")
        args.append(updated_before)
    sql = "SELECT * FROM order_state" + (" WHERE " + " AND ".join(where) if where else "")
    rows = conn.execute(sql + " ORDER BY updated_at DESC, order_id DESC LIMIT ?", (*args, limit))
    return [dict(r) for r in rows]


def synced_many(conn: sqlite3.Connection, order_ids: Iterable[str]) -> dict[str, str | None]:
    """``synced_at`` of each order in ``order_ids`` (one indexed lookup per order)."""
    return {oid: synced_at(conn, oid) for oid in order_ids}


def expiring_lots_page(conn: sqlite3.Connection, until: str, limit: int,
                       after: tuple[str, str, str] | None = None) -> list[dict]:
    """Lots with stock expiring on or before ``until`` (ISO date), soonest first, ``limit`` after the keyset
    ``after`` (expires, sku, lot); from the expiry index of the reference mirror."""
    where = ["json_extract(data, '$.expires') <= ?", "COALESCE(json_extract(data, '$.qty'), 0) > 0"]
    args: list[Any] = [until]
    if after is not None:
        where.append("(json_extract(data, '$.expires'), sku, lot) > (?, ?, ?)")
        args += after
    rows = conn.execute("SELECT data FROM ref_lots WHERE json_extract(data, '$.expires') IS NOT NULL AND "
                        + " AND ".join(where) + " ORDER BY json_extract(data, '$.expires'), sku, lot LIMIT ?",
                        (*args, limit))
    return [json.loads(r[0]) for r in rows]


def expiring_lots_count(conn: sqlite3.Connection, until: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM ref_lots WHERE json_extract(data, '$.expires') <= ?"
                            " AND COALESCE(json_extract(data, '$.qty'), 0) > 0", (until,)).fetchone()[0])


def audit_page(conn: sqlite3.Connection, limit: int, before_id: int | None = None, terminal: str | None = None) -> list[dict]:
    """Audit entries, newest first, ``limit`` with an id below ``before_id``; ``terminal`` a device-id prefix."""
    rows = conn.execute("SELECT * FROM audit WHERE id < ? AND (? IS NULL OR terminal LIKE ? || '%')"
                        " ORDER BY id DESC LIMIT ?", (before_id or 2**62, terminal, terminal, limit)).fetchall()
    return [{**dict(r), "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in rows]


def rejected_page(conn: sqlite3.Connection, limit: int, before_id: int | None = None, source: str | None = None) -> list[dict]:
    """Input kept for review, newest first; ``source`` a device-id prefix."""
    rows = conn.execute("SELECT * FROM rejected_input WHERE id < ? AND (? IS NULL OR source LIKE ? || '%')"
                        " ORDER BY id DESC LIMIT ?", (before_id or 2**62, source, source, limit))
    return [dict(r) for r in rows]


def table_count(conn: sqlite3.Connection, table: str) -> int:
    """Rows in one of the append-only tables (``audit``, ``rejected_input``, ``ref_employees``): max rowid, no scan."""
    if table not in ("audit", "rejected_input", "ref_employees"):
        raise ValueError(f"no count for {table!r}")
    if table == "ref_employees":
        return int(conn.execute("SELECT COUNT(*) FROM ref_employees").fetchone()[0])
    return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])


def employees_page(conn: sqlite3.Connection, limit: int, after: str | None = None, role: str | None = None) -> list[dict]:
    rows = conn.execute("SELECT data FROM ref_employees WHERE employee_id > ? ORDER BY employee_id LIMIT ?",
                        (after or "", limit if role is None else limit * 20))
    ring = ring_of(conn)
    found = [ring.open_record(json.loads(r[0])) for r in rows]
    return [e for e in found if role is None or e.get("role") == role][:limit]


def orders_to_pick_page(conn: sqlite3.Connection, limit: int, after: tuple[int, str] | None = None) -> list[dict]:
    """Upstream orders still to pick here (open or picking, not taken further locally), highest priority
    first then by id: ``limit`` rows after the keyset ``after`` (priority, order_id)."""
    args: list[Any] = []
    keyset = ""
    if after is not None:
        keyset = " AND (r.priority < ? OR (r.priority = ? AND r.order_id > ?))"
        args = [after[0], after[0], after[1]]
    rows = conn.execute(
        "SELECT r.data, s.status AS local_status, s.priority AS local_priority FROM ref_orders r"
        " LEFT JOIN order_state s ON s.order_id = r.order_id"  # +r.status: walk the queue index, never sort
        " WHERE +r.status IN ('open', 'picking') AND COALESCE(s.status, 'open') IN ('open', 'picking')" + keyset +
        " ORDER BY r.priority DESC, r.order_id LIMIT ?", (*args, limit))
    # personal values stay sealed: the list shows no recipient (and the PDAs ask for it often)
    return [{**json.loads(r[0]), "local_status": r["local_status"], "local_priority": r["local_priority"]} for r in rows]


def orders_to_pick_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute(
        "SELECT COUNT(*) FROM ref_orders r LEFT JOIN order_state s ON s.order_id = r.order_id"
        " WHERE r.status IN ('open', 'picking') AND COALESCE(s.status, 'open') IN ('open', 'picking')").fetchone()[0])


class PackedSerials:
    """``serial_key`` strings ("SKU:serial") already packed at this station, looked up one at a time
    (the table grows all shift; a scan must not read all of it)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or ":" not in key:
            return False
        sku, serial = key.split(":", 1)
        return self.conn.execute("SELECT 1 FROM packed_serials WHERE sku = ? AND serial = ?",
                                 (sku, serial)).fetchone() is not None


def add_packed_serials(conn: sqlite3.Connection, order_id: str, serials: Iterable[tuple[str, str]], at: str) -> None:
    conn.executemany("INSERT OR IGNORE INTO packed_serials (sku, serial, order_id, at) VALUES (?, ?, ?, ?)",
                     [(sku, serial, order_id, at) for sku, serial in serials])


def add_audit(conn: sqlite3.Connection, at: str, who: str, action: str, object_id: str | None,
              before: Any, after: Any, reason: str | None, terminal: str | None) -> None:
    audit_chain.append(conn, {"at": at, "who": who, "action": action, "object_id": object_id, "before": _dumps(before),
                              "after": _dumps(after), "reason": reason, "terminal": terminal})


def recent_audit(conn: sqlite3.Connection, limit: int = 100) -> list[dict]:
    rows = conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [{**dict(r), "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in rows]


def add_weighing(conn: sqlite3.Connection, at: str, order_id: str, operator: str | None, result: dict, verdict: str) -> None:
    conn.execute("INSERT INTO weighings (at, order_id, operator, measured_g, expected_g, diff_g, diff_pct, allowed_g, verdict) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (at, order_id, operator, result.get("measured_g"), result.get("expected_g"), result.get("diff_g"),
                  result.get("diff_pct"), result.get("allowed_g"), verdict))


def stored_answer(conn: sqlite3.Connection, key: str) -> dict | None:
    row = conn.execute("SELECT request_hash, response FROM answers WHERE key = ?", (key,)).fetchone()
    return None if row is None else {"request_hash": row["request_hash"], "response": json.loads(row["response"])}


def store_answer(conn: sqlite3.Connection, key: str, request_hash: str, response: dict, at: str) -> None:
    conn.execute("INSERT INTO answers (key, request_hash, response, at) VALUES (?, ?, ?, ?)",
                 (key, request_hash, _dumps(response), at))


def save_session(conn: sqlite3.Connection, terminal: str, snapshot: dict, at: str) -> None:
    conn.execute("INSERT INTO sessions (terminal, snapshot, updated_at) VALUES (?, ?, ?) "
                 "ON CONFLICT(terminal) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                 (terminal, _dumps(snapshot), at))


def load_sessions(conn: sqlite3.Connection) -> dict[str, dict]:
    return {r["terminal"]: json.loads(r["snapshot"]) for r in conn.execute("SELECT * FROM sessions")}


def record_rejected(conn: sqlite3.Connection, at: str, source: str, raw: str, reason: str) -> None:
    conn.execute("INSERT INTO rejected_input (at, source, raw, reason) VALUES (?, ?, ?, ?)", (at, source, raw, reason))


def recent_rejected(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    return [dict(r) for r in conn.execute("SELECT * FROM rejected_input ORDER BY id DESC LIMIT ?", (limit,))]


def escalations(conn: sqlite3.Connection, open_only: bool = True) -> list[dict]:
    sql = "SELECT * FROM escalations"
    if open_only:
        sql += " WHERE fired_at IS NOT NULL AND acked_at IS NULL"
    return [dict(r) for r in conn.execute(sql + " ORDER BY deadline")]


def add_escalation(conn: sqlite3.Connection, order_id: str, level: int, deadline: str, fired_at: str) -> bool:
    """Record a fired escalation; False when (order, level) had fired already."""
    cur = conn.execute("INSERT OR IGNORE INTO escalations (order_id, level, deadline, fired_at) VALUES (?, ?, ?, ?)",
                       (order_id, level, deadline, fired_at))
    return cur.rowcount > 0


def escalation(conn: sqlite3.Connection, escalation_id: int) -> dict | None:
    row = conn.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
    return dict(row) if row else None


def escalations_to_notify(conn: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in conn.execute("SELECT * FROM escalations WHERE fired_at IS NOT NULL AND notified = 0")]


def mark_notified(conn: sqlite3.Connection, escalation_id: int, notified: int, error: str | None) -> None:
    """``notified``: 1 sent, 0 still to send (``error`` says why not yet), -1 dropped (``error`` says why)."""
    only_pending = " AND notified = 0" if notified >= 0 else ""
    conn.execute(f"UPDATE escalations SET notified = ?, notify_error = ? WHERE id = ?{only_pending}",
                 (notified, error, escalation_id))


def acknowledge_escalations(conn: sqlite3.Connection, order_id: str, by: str, at: str) -> None:
    conn.execute("UPDATE escalations SET acked_by = ?, acked_at = ? WHERE order_id = ?", (by, at, order_id))


def synced_at(conn: sqlite3.Connection, order_id: str) -> str | None:
    """When the last confirmation about ``order_id`` was delivered, if none is still pending."""
    pending, last = conn.execute(
        "SELECT SUM(state != 'sent'), MAX(sent_at) FROM sync_outbox WHERE object_type = 'order' AND object_id = ?",
        (order_id,)).fetchone()
    return None if pending or last is None else str(last)


# ---- the site hub's view of lot stock (units taken at any table, from the hub's change feed) ---------
def site_lot_taken(conn: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in conn.execute("SELECT sku, lot, order_id, units FROM site_lot_taken")]


def add_site_lot_taken(conn: sqlite3.Connection, sku: str, lot: str, order_id: str, units: int) -> None:
    conn.execute("INSERT INTO site_lot_taken (sku, lot, order_id, units) VALUES (?, ?, ?, ?) ON CONFLICT"
                 " (sku, lot, order_id) DO UPDATE SET units = units + excluded.units", (sku, lot, order_id, units))
