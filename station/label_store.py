"""Every SQL statement on the station's label tables: the label of each carton (its frozen request, waybill,
fields and the job as printed) and the pool of pre-issued waybills per order for offline work (their DDL: step 6
in ``station/migrations/steps.py``)."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from packgate.sync.common.sealing import ring_of


def job_by_key(conn: sqlite3.Connection, key: str) -> dict | None:
    row = conn.execute("SELECT * FROM label_jobs WHERE key = ?", (key,)).fetchone()
    return _job(conn, row)


def job_by_waybill(conn: sqlite3.Connection, waybill: str) -> dict | None:
    row = conn.execute("SELECT * FROM label_jobs WHERE waybill = ?", (waybill,)).fetchone()
    return _job(conn, row)


def _job(conn: sqlite3.Connection, row: sqlite3.Row | None) -> dict | None:
    """A label row with its fields and job opened (the recipient's name and phone are sealed at rest)."""
    if row is None:
        return None
    out = dict(row)
    ring = ring_of(conn)
    out["body"] = json.loads(out["body"])
    out["fields"] = ring.open_record(json.loads(out["fields"])) if out["fields"] else None
    out["job"] = ring.open_bytes(bytes(out["job"])) if out["job"] is not None else None
    return out


def add_request(conn: sqlite3.Connection, key: str, order_id: str, carton: int, body: dict, at: str) -> None:
    """The request, frozen before it is sent: every retry (and a restart) sends these bytes again."""
    conn.execute("INSERT OR IGNORE INTO label_jobs (key, order_id, carton, body, requested_at) VALUES (?, ?, ?, ?, ?)",
                 (key, order_id, carton, json.dumps(body, sort_keys=True), at))


def set_issued(conn: sqlite3.Connection, key: str, body: dict, waybill: str, fields: dict, job: bytes, language: str,
               source: str, synced: bool) -> None:
    conn.execute("UPDATE label_jobs SET body = ?, waybill = ?, fields = ?, job = ?, language = ?, source = ?, synced = ?"
                 " WHERE key = ?", (json.dumps(body, sort_keys=True), waybill,
                                    json.dumps(ring_of(conn).seal_record(fields), sort_keys=True),
                                    ring_of(conn).seal_bytes(job), language, source, int(synced), key))


def mark_printed(conn: sqlite3.Connection, key: str, at: str) -> None:
    conn.execute("UPDATE label_jobs SET printed_at = ?, prints = prints + 1 WHERE key = ?", (at, key))


def unsynced(conn: sqlite3.Connection, limit: int = 20) -> list[dict]:
    rows = conn.execute("SELECT * FROM label_jobs WHERE synced = 0 AND waybill IS NOT NULL ORDER BY requested_at"
                        " LIMIT ?", (limit,)).fetchall()
    return [j for j in (_job(conn, r) for r in rows) if j is not None]


def set_synced(conn: sqlite3.Connection, key: str, error: str | None) -> None:
    conn.execute("UPDATE label_jobs SET synced = 1, sync_error = ? WHERE key = ?", (error, key))


def owner_of(conn: sqlite3.Connection, waybill: str) -> str | None:
    """The order a waybill known to this station belongs to (printed here or pre-issued to it)."""
    row = conn.execute("SELECT order_id FROM label_jobs WHERE waybill = ? UNION ALL "
                       "SELECT order_id FROM waybill_pool WHERE waybill = ? LIMIT 1", (waybill, waybill)).fetchone()
    return str(row[0]) if row else None


def add_reserved(conn: sqlite3.Connection, order_id: str, reserve_key: str, waybills: list[str], at: str) -> None:
    conn.executemany("INSERT OR IGNORE INTO waybill_pool (waybill, order_id, reserve_key, reserved_at)"
                     " VALUES (?, ?, ?, ?)", [(w, order_id, reserve_key, at) for w in waybills])


def free_reserved(conn: sqlite3.Connection, order_id: str) -> list[str]:
    rows = conn.execute("SELECT waybill FROM waybill_pool WHERE order_id = ? AND used_by IS NULL ORDER BY waybill",
                        (order_id,)).fetchall()
    return [str(r[0]) for r in rows]


def reserved_count(conn: sqlite3.Connection, order_id: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM waybill_pool WHERE order_id = ?", (order_id,)).fetchone()[0])


def use_reserved(conn: sqlite3.Connection, waybill: str, key: str) -> None:
    conn.execute("UPDATE waybill_pool SET used_by = ? WHERE waybill = ? AND used_by IS NULL", (key, waybill))


def get_meta(conn: sqlite3.Connection, k: str) -> str | None:
    row = conn.execute("SELECT v FROM label_meta WHERE k = ?", (k,)).fetchone()
    return str(row[0]) if row else None


def set_meta(conn: sqlite3.Connection, k: str, v: str) -> None:
    conn.execute("INSERT INTO label_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", (k, v))


def status(conn: sqlite3.Connection) -> dict[str, Any]:
    row = conn.execute("SELECT COUNT(*), SUM(synced = 0), SUM(sync_error IS NOT NULL) FROM label_jobs"
                       " WHERE waybill IS NOT NULL").fetchone()
    free = conn.execute("SELECT COUNT(*) FROM waybill_pool WHERE used_by IS NULL").fetchone()[0]
    return {"labels": row[0] or 0, "unsynced": row[1] or 0, "conflicts": row[2] or 0, "reserved_free": free}
