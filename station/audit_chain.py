"""A hash chain over the station's audit log, so a changed or deleted row is detected.

Each ``audit`` row carries ``row_hash = SHA-256(prev_hash + "\\n" + canonical JSON of its content)`` and the
``prev_hash`` of the row before it (the first row chains to 64 zeros). ``audit_head`` holds the last row's id
and hash and the number of rows: deleting the newest rows breaks the head, deleting or editing any other
row breaks the chain at the next row. The append-only triggers (``station/migrations/steps.py``) already refuse
UPDATE and DELETE; the chain catches what bypasses them (a copy of the file edited elsewhere, the triggers dropped).

Limit: someone who rewrites every later row *and* the head with correct hashes is not caught by the file
alone; ``verify`` prints the head, which can be compared with a copy kept elsewhere (e.g. the last
``packgate audit verify`` output in the shift report).

``chain_all`` chains rows written before this existed: schema step 2 (``station/migrations``) adds the columns
and the head and runs it once, in the step's transaction.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
CONTENT = ("id", "at", "who", "action", "object_id", "before", "after", "reason", "terminal")


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    content = json.dumps([row.get(name) for name in CONTENT], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{content}".encode("utf-8")).hexdigest()


def chain_all(conn: sqlite3.Connection) -> int:
    """Chain every audit row from the first (none has a hash yet) and set the head; returns how many rows.

    Runs inside schema step 2's transaction, with the append-only triggers lifted by that step."""
    prev = GENESIS
    rows = 0
    for row in conn.execute("SELECT * FROM audit ORDER BY id").fetchall():
        digest = row_hash(prev, dict(row))
        conn.execute("UPDATE audit SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, digest, row["id"]))
        prev, rows = digest, rows + 1
    last = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0] or 0
    conn.execute("INSERT OR REPLACE INTO audit_head (one, last_id, last_hash, rows) VALUES (1, ?, ?, ?)",
                 (last, prev, rows))
    return rows


def append(conn: sqlite3.Connection, values: dict[str, Any]) -> int:
    """Insert one audit row chained to the head, inside the caller's write transaction; returns its id.

    The id is chosen here (the write lock is held) so the row is inserted complete, hash included:
    the append-only triggers never need lifting."""
    head = conn.execute("SELECT last_hash, rows FROM audit_head WHERE one = 1").fetchone()
    prev, rows = (head[0], head[1]) if head else (GENESIS, 0)
    new_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM audit").fetchone()[0])
    row = {**values, "id": new_id}
    digest = row_hash(prev, row)
    conn.execute("INSERT INTO audit (id, at, who, action, object_id, before, after, reason, terminal, prev_hash, "
                 "row_hash) VALUES (:id, :at, :who, :action, :object_id, :before, :after, :reason, :terminal, "
                 ":prev_hash, :row_hash)", {**row, "prev_hash": prev, "row_hash": digest})
    conn.execute("INSERT OR REPLACE INTO audit_head (one, last_id, last_hash, rows) VALUES (1, ?, ?, ?)",
                 (new_id, digest, rows + 1))
    return new_id


@dataclass
class Report:
    rows: int = 0
    head_id: int | None = None
    head_hash: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "head_id": self.head_id, "head_hash": self.head_hash,
                "problems": self.problems}


def verify(conn: sqlite3.Connection) -> Report:
    """Recompute the chain; every row changed, inserted out of chain or missing is a problem
    (``kind``: changed, broken_link, unchained, head_mismatch, head_missing)."""
    report = Report()
    prev = GENESIS
    last_id = 0
    for row in conn.execute("SELECT * FROM audit ORDER BY id"):
        entry = dict(row)
        report.rows += 1
        if entry.get("row_hash") is None:
            report.problems.append({"kind": "unchained", "id": entry["id"]})
        else:
            if entry["prev_hash"] != prev:
                report.problems.append({"kind": "broken_link", "id": entry["id"], "after_id": last_id or None})
            if row_hash(entry["prev_hash"], entry) != entry["row_hash"]:
                report.problems.append({"kind": "changed", "id": entry["id"]})
        prev = entry.get("row_hash") or prev
        last_id = entry["id"]
    head = conn.execute("SELECT last_id, last_hash, rows FROM audit_head WHERE one = 1").fetchone()
    if head is None:
        if report.rows:
            report.problems.append({"kind": "head_missing", "id": None})
    else:
        report.head_id, report.head_hash = head[0], head[1]
        if (head[0] or 0, head[1], head[2]) != (last_id, prev, report.rows):
            report.problems.append({"kind": "head_mismatch", "id": head[0], "found_last_id": last_id or None,
                                    "expected_rows": head[2], "found_rows": report.rows})
    return report
