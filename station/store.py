"""The station's own tables, in the same SQLite file as the outbox.

Every write happens inside the caller's ``write_tx`` together with the outbox rows, so the
local state change and its confirmations commit (or roll back) as one.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from packgate.station import audit_chain

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_state (
    order_id    TEXT PRIMARY KEY,
    status      TEXT NOT NULL,              -- open, picking, picked, packing, weighed, blocked, packed, cancelled
    priority    INTEGER NOT NULL DEFAULT 0,
    station     TEXT,
    blocked_reason TEXT,
    picked_at   TEXT, verified_at TEXT, weighed_at TEXT, packed_at TEXT, synced_at TEXT, cancelled_at TEXT,
    updated_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packed_serials (
    sku TEXT NOT NULL, serial TEXT NOT NULL, order_id TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (sku, serial)
);
CREATE TABLE IF NOT EXISTS weighings (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, order_id TEXT NOT NULL, operator TEXT,
    measured_g TEXT, expected_g TEXT, diff_g TEXT, diff_pct TEXT, allowed_g TEXT, verdict TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
    object_id TEXT, before TEXT, after TEXT, reason TEXT, terminal TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS escalations (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, level INTEGER NOT NULL, deadline TEXT NOT NULL,
    fired_at TEXT, notified INTEGER NOT NULL DEFAULT 0, notify_error TEXT, acked_by TEXT, acked_at TEXT,
    UNIQUE (order_id, level)
);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, response TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    terminal TEXT PRIMARY KEY, snapshot TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_input (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, source TEXT NOT NULL, raw TEXT NOT NULL, reason TEXT NOT NULL
);
"""

MILESTONES = ("picked_at", "verified_at", "weighed_at", "packed_at", "synced_at", "cancelled_at")


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    audit_chain.migrate(conn)  # the audit rows' hash chain (station/audit_chain.py)


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


def list_orders(conn: sqlite3.Connection, statuses: Iterable[str] | None = None) -> list[dict]:
    if statuses is None:
        rows = conn.execute("SELECT * FROM order_state ORDER BY updated_at DESC").fetchall()
    else:
        marks = ",".join("?" for _ in statuses)
        rows = conn.execute(f"SELECT * FROM order_state WHERE status IN ({marks}) ORDER BY updated_at DESC",
                            tuple(statuses)).fetchall()
    return [dict(r) for r in rows]


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
