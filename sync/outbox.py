"""The durable outbox: confirmations committed with the station's state change, sent later.

``enqueue`` runs inside the caller's ``write_tx``: the confirmation row (its exact JSON bytes,
its idempotency key, its gap-free per-station ``seq``) commits or rolls back together with the
station's own change. The worker (``sync.worker``) owns delivery; the row owns ``attempts``,
``next_attempt_at`` and ``last_error`` so retries survive restarts.
"""
from __future__ import annotations

import json
import random
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from packgate.device.clock import Clock, isoformat, parse_iso
from packgate.sync import crash
from packgate.sync.common.db import DbSpec, factory, write_tx
from packgate.sync.common.ids import check_station, make_id
from packgate.sync.common.jsonbytes import dumps, freeze
from packgate.sync.errors import IdempotencyConflictError, NotInTransactionError, OutboxError
from packgate.sync.schema import get_meta, outbox_counts, set_meta, upgrade

SKEW_WARN_S = 5.0
STALE_AFTER_S = 900.0
CONTENT_FIELDS = ("action", "object_type", "object_id", "operator", "device", "location", "payload", "image_sha256")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def utc_iso(moment: datetime) -> str:
    """Fixed-width UTC ISO text: sorts as text, used for ``next_attempt_at``."""
    return isoformat(moment.astimezone(timezone.utc))


@dataclass(frozen=True)
class Row:
    """One outbox row as the worker sees it."""

    station: str
    seq: int
    id: str
    key: str
    body: bytes
    attempts: int
    next_attempt_at: str

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> "Row":
        return cls(row["station"], row["seq"], row["id"], row["key"], bytes(row["body"]), row["attempts"],
                   row["next_attempt_at"])


class Outbox:
    """``Outbox(db_path or conn_factory, station_id="ST01", clock=Clock())``."""

    def __init__(self, db: DbSpec, station_id: str, clock: Clock | None = None, *, rng: random.Random | None = None):
        self.station_id = check_station(station_id)
        self.clock = clock or Clock()
        self._rng = rng or random.SystemRandom()
        self._connect = factory(db)
        conn = self._connect()
        try:
            upgrade(conn, self.clock)
        finally:
            conn.close()

    # ---- station side ---------------------------------------------------------------------
    def enqueue(self, conn: sqlite3.Connection, *, action: str, object_type: str, object_id: str,
                operator: str | None, device: str | None, location: str, payload: dict | None = None,
                image_sha256: str | None = None, key: str | None = None, at: datetime | None = None) -> dict:
        """Add a confirmation inside the caller's open write transaction; returns it as a dict.

        With a ``key`` already in the outbox, the stored confirmation comes back
        (``"replayed": True``) if the content matches, else IdempotencyConflictError.
        """
        if not conn.in_transaction:
            raise NotInTransactionError("Outbox.enqueue must run inside write_tx(conn) with the station's change")
        content = _content(action=action, object_type=object_type, object_id=object_id, operator=operator,
                           device=device, location=location, payload=payload, image_sha256=image_sha256)
        if key is not None:
            if not isinstance(key, str) or not 8 <= len(key) <= 200:
                raise OutboxError("an idempotency key must be a string of 8-200 characters")
            existing = conn.execute("SELECT body FROM sync_outbox WHERE key = ?", (key,)).fetchone()
            if existing is not None:
                stored = json.loads(existing["body"])
                if {f: stored.get(f) for f in CONTENT_FIELDS} != content:
                    raise IdempotencyConflictError(f"key {key!r} was already used for {stored['id']} with other content")
                return {**stored, "replayed": True}
        moment = at or self.clock.now()
        if moment.tzinfo is None:
            raise OutboxError("a confirmation time needs a UTC offset")
        row = conn.execute(
            "INSERT INTO sync_seq (station, last_seq) VALUES (?, 1) "
            "ON CONFLICT (station) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
            (self.station_id,)).fetchone()
        seq = row[0]
        conf = {"id": make_id(self.station_id, moment.date(), seq), "key": key or str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "station": self.station_id, "seq": seq, "at": isoformat(moment), **content}
        body = dumps(conf)
        conn.execute(
            "INSERT INTO sync_outbox (station, seq, id, key, action, object_type, object_id, created_at, body,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.station_id, seq, conf["id"], conf["key"], action, object_type, object_id, conf["at"], body,
             utc_iso(moment)))
        crash.point("before_commit")
        return conf

    # ---- health ---------------------------------------------------------------------------
    def status(self, conn: sqlite3.Connection | None = None) -> dict:
        """Queue depth, age of the oldest unsent confirmation, last success, dead letters, skew."""
        with _borrow(self._connect, conn) as c:
            return outbox_status(c, self.clock.now())

    def list_dead(self, conn: sqlite3.Connection | None = None, limit: int = 1000) -> list[dict]:
        with _borrow(self._connect, conn) as c:
            rows = c.execute("SELECT id, seq, action, object_type, object_id, created_at, attempts, dead_at,"
                             " dead_reason FROM sync_outbox WHERE state = 'dead' ORDER BY seq LIMIT ?", (limit,))
            return [dict(r) for r in rows]

    def get(self, conf_id: str, conn: sqlite3.Connection | None = None) -> dict | None:
        with _borrow(self._connect, conn) as c:
            row = c.execute("SELECT * FROM sync_outbox WHERE id = ?", (conf_id,)).fetchone()
            if row is None:
                return None
            out = dict(row)
            out["body"] = bytes(row["body"]).decode("utf-8")
            return out

    def retry_dead(self, ids: Iterable[str], by: str, conn: sqlite3.Connection | None = None) -> list[str]:
        """Put dead letters back in the queue (same bytes, same key); audited with who and when."""
        with _borrow(self._connect, conn) as c:
            return retry_dead(c, ids, by, self.clock.now())

    # ---- worker side ----------------------------------------------------------------------
    @staticmethod
    def head(conn: sqlite3.Connection) -> Row | None:
        row = conn.execute("SELECT * FROM sync_outbox WHERE state = 'pending' ORDER BY seq LIMIT 1").fetchone()
        return Row.from_sql(row) if row else None

    @staticmethod
    def batch(conn: sqlite3.Connection, station: str, limit: int) -> list[Row]:
        """The first ``limit`` pending rows of ``station`` in seq order (keeps per-order order)."""
        rows = conn.execute("SELECT * FROM sync_outbox WHERE state = 'pending' AND station = ? ORDER BY seq LIMIT ?",
                            (station, limit))
        return [Row.from_sql(r) for r in rows]

    @staticmethod
    def mark_results(conn: sqlite3.Connection, rows: Sequence[Row], results: dict[str, dict], now: datetime,
                     skew_s: float | None = None) -> dict[str, int]:
        """Record upstream's per-item answers in one transaction: accepted/duplicate → sent, rejected → dead (its
        ``error`` code, or "rejected", in ``upstream_status``)."""
        counts = {"sent": 0, "dead": 0}
        stamp = isoformat(now)
        with write_tx(conn):
            for i, row in enumerate(rows):
                if i == len(rows) // 2:
                    crash.point("during_mark")
                result = results[row.id]
                if result["status"] in ("accepted", "duplicate"):
                    conn.execute("UPDATE sync_outbox SET state = 'sent', sent_at = ?, upstream_status = ?,"
                                 " attempts = attempts + 1, last_attempt_at = ?, last_error = NULL"
                                 " WHERE id = ? AND state = 'pending'", (stamp, result["status"], stamp, row.id))
                    counts["sent"] += 1
                else:  # upstream_status keeps the rejection's code (e.g. order_cancelled: a conflict to resolve)
                    reason = str(result.get("reason") or "rejected by upstream")
                    error = result.get("error")
                    code = error if isinstance(error, str) else "rejected"
                    conn.execute("UPDATE sync_outbox SET state = 'dead', dead_at = ?, dead_reason = ?,"
                                 " upstream_status = ?, attempts = attempts + 1, last_attempt_at = ?, last_error = ?"
                                 " WHERE id = ? AND state = 'pending'", (stamp, reason, code[:40], stamp, reason,
                                                                         row.id))
                    counts["dead"] += 1
            set_meta(conn, worker__last_success=stamp, worker__last_attempt=stamp, worker__last_error=None,
                     worker__failures=0, **({"clock__skew_s": f"{skew_s:.3f}", "clock__checked_at": stamp}
                                             if skew_s is not None else {}))
        return counts

    @staticmethod
    def mark_failure(conn: sqlite3.Connection, rows: Sequence[Row], error: str, now: datetime, next_at: datetime,
                     skew_s: float | None = None) -> None:
        stamp = isoformat(now)
        with write_tx(conn):
            conn.executemany("UPDATE sync_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_attempt_at = ?,"
                             " last_error = ? WHERE id = ? AND state = 'pending'",
                             [(utc_iso(next_at), stamp, error, row.id) for row in rows])
            failures = int(get_meta(conn, "worker.failures").get("worker.failures") or 0) + 1
            set_meta(conn, worker__last_attempt=stamp, worker__last_error=error, worker__failures=failures,
                     **({"clock__skew_s": f"{skew_s:.3f}", "clock__checked_at": stamp} if skew_s is not None else {}))

    @staticmethod
    def mark_dead(conn: sqlite3.Connection, row: Row, reason: str, now: datetime) -> None:
        stamp = isoformat(now)
        with write_tx(conn):
            conn.execute("UPDATE sync_outbox SET state = 'dead', dead_at = ?, dead_reason = ?, attempts = attempts + 1,"
                         " last_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'pending'",
                         (stamp, reason, stamp, reason, row.id))
            set_meta(conn, worker__last_attempt=stamp, worker__last_error=f"dead letter {row.id}: {reason}")


def _content(**fields: Any) -> dict:
    for name in ("action", "object_type", "object_id", "location"):
        if not isinstance(fields[name], str) or not fields[name].strip():
            raise OutboxError(f"{name} must be a non-empty string, got {fields[name]!r}")
    for name in ("operator", "device"):
        if fields[name] is not None and not isinstance(fields[name], str):
            raise OutboxError(f"{name} must be a string or None, got {fields[name]!r}")
    image = fields["image_sha256"]
    if image is not None and not (isinstance(image, str) and _SHA256.match(image)):
        raise OutboxError("image_sha256 must be 64 lowercase hex digits or None")
    payload = fields["payload"] if fields["payload"] is not None else {}
    if not isinstance(payload, dict):
        raise OutboxError("payload must be a dict")
    return freeze({**fields, "payload": payload})


def retry_dead(conn: sqlite3.Connection, ids: Iterable[str], by: str, now: datetime) -> list[str]:
    """Requeue the named dead letters (attempts reset, same frozen bytes and key); returns those requeued."""
    if not by:
        raise OutboxError("retrying dead letters needs the employee id of the supervisor (by=...)")
    done = []
    with write_tx(conn):
        for conf_id in ids:
            row = conn.execute("SELECT state, attempts, dead_reason FROM sync_outbox WHERE id = ?", (conf_id,)).fetchone()
            if row is None or row["state"] != "dead":
                continue
            conn.execute("UPDATE sync_outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                         " last_error = NULL WHERE id = ?", (utc_iso(now), conf_id))
            conn.execute("INSERT INTO sync_audit (at, who, what, confirmation_id, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                         (isoformat(now), by, "retry-dead", conf_id,
                          json.dumps({"state": "dead", "attempts": row["attempts"], "dead_reason": row["dead_reason"]}),
                          json.dumps({"state": "pending", "attempts": 0})))
            done.append(conf_id)
    return done


def prune_sent(conn: sqlite3.Connection, before: datetime, chunk: int = 2_000) -> int:
    """Delete rows upstream acknowledged before ``before`` (seq numbering is unaffected: ``sync_seq``
    keeps the last number). Pending and dead rows are never pruned. Deletes ``chunk`` rows per
    transaction, so the station's writers wait for one short transaction at most."""
    if before.tzinfo is None:
        raise OutboxError("a prune time needs a UTC offset")
    cutoff, total = isoformat(before), 0
    while True:
        with write_tx(conn):
            # julianday() reads the UTC offset of each stamp, so stamps written under any offset compare right
            n = conn.execute("DELETE FROM sync_outbox WHERE rowid IN (SELECT rowid FROM sync_outbox"
                             " WHERE state = 'sent' AND julianday(sent_at) < julianday(?) LIMIT ?)",
                             (cutoff, chunk)).rowcount
        total += n
        if n < chunk:
            return total


def dead_ids(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM sync_outbox WHERE state = 'dead' ORDER BY seq")]


def outbox_status(conn: sqlite3.Connection, now: datetime) -> dict:
    counts = {"pending": 0, "sent": 0, "dead": 0}
    try:
        counts = outbox_counts(conn)
        head = conn.execute("SELECT created_at, next_attempt_at, attempts, last_error FROM sync_outbox"
                            " WHERE state = 'pending' ORDER BY seq LIMIT 1").fetchone()
        meta = get_meta(conn)
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        head, meta = None, {}
    oldest_age = (now - parse_iso(head["created_at"])).total_seconds() if head else None
    skew = float(meta["clock.skew_s"]) if meta.get("clock.skew_s") else None
    status = {
        "depth": counts["pending"], "sent": counts["sent"], "dead": counts["dead"],
        "oldest_unsent_at": head["created_at"] if head else None,
        "oldest_age_s": round(oldest_age, 3) if oldest_age is not None else None,
        "next_attempt_at": head["next_attempt_at"] if head else None,
        "head_attempts": head["attempts"] if head else 0,
        "last_success": meta.get("worker.last_success"),
        "last_attempt": meta.get("worker.last_attempt"),
        "last_error": meta.get("worker.last_error"),
        "consecutive_failures": int(meta.get("worker.failures") or 0),
        "clock_skew_s": skew,
        "clock_skew_warning": skew is not None and abs(skew) > SKEW_WARN_S,
        "reference": {
            "cursor": meta.get("ref.cursor"),
            "last_refresh": meta.get("ref.last_refresh"),
            "last_attempt": meta.get("ref.last_attempt"),
            "last_error": meta.get("ref.last_error"),
            "age_s": round((now - parse_iso(meta["ref.last_refresh"])).total_seconds(), 3)
            if meta.get("ref.last_refresh") else None,
        },
        "now": isoformat(now),
    }
    problems = []
    if status["dead"]:
        problems.append(f"{status['dead']} dead letter(s) need a supervisor")
    if oldest_age is not None and oldest_age > STALE_AFTER_S:
        problems.append(f"oldest unsent confirmation is {oldest_age:.0f} s old")
    if status["clock_skew_warning"]:
        problems.append(f"clock differs from upstream by {skew:+.1f} s")
    if status["reference"]["last_error"]:
        problems.append(f"reference refresh failing: {status['reference']['last_error']}")
    status["problems"] = problems
    status["ok"] = not problems
    return status


class _borrow:
    """Use the caller's connection, or open (and close) one of ours."""

    def __init__(self, connect, conn):
        self._connect, self._conn, self._own = connect, conn, conn is None

    def __enter__(self) -> sqlite3.Connection:
        if self._own:
            self._conn = self._connect()
        return self._conn

    def __exit__(self, *exc) -> None:
        if self._own:
            self._conn.close()
