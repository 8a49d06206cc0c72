"""The reference upstream's SQLite store: reference data with a change counter, and the
confirmation ledger that deduplicates by ``(station, key)`` inside the effect's transaction.

Everything here runs inside a transaction the caller opened (``write_tx``); one batch is one
transaction, so "the key is recorded" and "the effect happened" commit together or not at all.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.common.ids import parse_id
from packgate.sync.common.jsonbytes import MAX_INT, dumps, fingerprint
from packgate.sync.errors import InvalidConfirmationIdError

KINDS = {  # kind -> (key fields, required fields)
    "skus": (("sku",), ("sku", "gtin", "name", "unit_weight_g", "special", "lot_policy")),
    "lots": (("sku", "lot"), ("sku", "lot", "produced", "expires", "bin", "qty")),
    "packaging": (("code",), ("code", "name", "tare_g")),
    "employees": (("employee_id",), ("employee_id", "name", "badge_uid", "role")),
    "orders": (("order_id",), ("order_id", "tote", "status", "lines")),
    "rmas": (("rma_id",), ("rma_id", "order_id", "lines", "reason", "waybill")),  # returns (sync/upstream/returns.py)
    "carriers": (("carrier",), ("carrier",)),  # suspended_regions, daily_cap, backup, reason (site policies)
}
# action -> upstream order status. "ship_load" (dock hand-over) and "tote_load" (picked into the tote) are the
# contract's two names; "load" is still accepted from stations not yet updated (on an order: shipped)
ORDER_EFFECTS = {"pack": "packed", "ship_load": "shipped", "load": "shipped"}
# interception (the station's ``core.order_state`` words, as plain strings): the statuses the WMS decides that stop
# the floor, what an order's contents are (a change bumps ``revision``), the actions a cancellation refuses and the
# rejection code it answers them with
STOPPING = ("held", "cancelled")
ORDER_CONTENT = ("lines", "address", "ship_to", "carrier")
REFUSED_WHEN_CANCELLED = ("pack", "ship_load", "load", "manifest")
ORDER_CANCELLED = "order_cancelled"
REQUIRED = ("id", "key", "station", "seq", "action", "object_type", "object_id", "location", "at", "payload")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS up_meta (k TEXT PRIMARY KEY, v TEXT)",
    """CREATE TABLE IF NOT EXISTS up_ref (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
        version INTEGER NOT NULL, PRIMARY KEY (kind, key))""",
    "CREATE INDEX IF NOT EXISTS up_ref_version ON up_ref (version)",
    "CREATE INDEX IF NOT EXISTS up_ref_kind_version ON up_ref (kind, version)",  # the fast pull of order changes
    """CREATE TABLE IF NOT EXISTS up_confirmations (
        n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, station TEXT NOT NULL, key TEXT NOT NULL,
        fingerprint TEXT NOT NULL, seq INTEGER NOT NULL, action TEXT NOT NULL, object_type TEXT NOT NULL,
        object_id TEXT NOT NULL, at TEXT NOT NULL, at_utc TEXT NOT NULL, received_at TEXT NOT NULL,
        received_utc TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (station, key))""",
    "CREATE INDEX IF NOT EXISTS up_conf_object ON up_confirmations (object_type, object_id)",
    "CREATE INDEX IF NOT EXISTS up_conf_station_at ON up_confirmations (station, at_utc)",
    """CREATE TABLE IF NOT EXISTS up_effects (object_type TEXT NOT NULL, object_id TEXT NOT NULL,
        count INTEGER NOT NULL, PRIMARY KEY (object_type, object_id))""",
    "CREATE TABLE IF NOT EXISTS up_stats (k TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    # one row per order shipped (dock hand-over): the first ship_load/load or manifest naming it, never a second
    """CREATE TABLE IF NOT EXISTS up_shipments (order_id TEXT PRIMARY KEY, confirmation_id TEXT NOT NULL,
        action TEXT NOT NULL, at TEXT NOT NULL)""",
)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute("COMMIT")


def utc_text(moment: datetime) -> str:
    return isoformat(moment.astimezone(timezone.utc))


def bump(conn: sqlite3.Connection, **counts: int) -> None:
    for key, n in counts.items():
        if n:
            conn.execute("INSERT INTO up_stats (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = n + excluded.n",
                         (key, n))


def stats(conn: sqlite3.Connection) -> dict[str, int]:
    out = {row[0]: row[1] for row in conn.execute("SELECT k, n FROM up_stats")}
    out["confirmations"] = conn.execute("SELECT COUNT(*) FROM up_confirmations").fetchone()[0]
    out["effects"] = conn.execute("SELECT COALESCE(SUM(count), 0) FROM up_effects").fetchone()[0]
    return out


# ---- reference data ---------------------------------------------------------------------------
def _next_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("INSERT INTO up_meta (k, v) VALUES ('change_counter', '1') ON CONFLICT (k) DO UPDATE"
                       " SET v = CAST(v AS INTEGER) + 1 RETURNING v").fetchone()
    return int(row[0])


def upsert_reference(conn: sqlite3.Connection, kind: str, items: list[dict], now: datetime) -> int:
    """Insert or replace reference rows (each bumps the change counter); returns the new cursor."""
    if kind not in KINDS:
        raise ValueError(f"unknown reference kind {kind!r}; one of {', '.join(KINDS)}")
    key_fields, required = KINDS[kind]
    version = current_cursor(conn)
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"{kind}: each item must be an object")
        missing = [f for f in required if f not in item]
        if missing:
            raise ValueError(f"{kind}: item {item.get(key_fields[0])!r} lacks {', '.join(missing)}")
        if kind == "orders":
            item = _order_record(get_reference(conn, "orders", str(item["order_id"])), item, now)
        version = _next_version(conn)
        conn.execute("INSERT INTO up_ref (kind, key, data, version) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key)"
                     " DO UPDATE SET data = excluded.data, version = excluded.version",
                     (kind, "\x1f".join(str(item[f]) for f in key_fields), dumps(item).decode(), version))
    return version


def _order_record(previous: dict | None, item: dict, now: datetime) -> dict:
    """The order as stored: ``updated_at`` now; ``released_at`` when it was first stored (unless the sender set
    it), kept through later changes; ``revision`` 1 at first, one more when the contents change (or the
    sender's, when higher); ``status_at`` (and ``status_reason``) stamped when the status moves to or from a
    stopping one, unless the sender set them."""
    record = {**item, "updated_at": isoformat(now)}
    sent = item.get("revision")
    given = sent if isinstance(sent, int) and not isinstance(sent, bool) and sent >= 1 else None
    if previous is None:
        record["revision"] = given or 1
        record.setdefault("released_at", record["updated_at"])  # when the floor may start it (the backlog's age)
        return record
    if "released_at" not in item and previous.get("released_at"):
        record["released_at"] = previous["released_at"]
    kept = previous.get("revision")
    before = kept if isinstance(kept, int) and not isinstance(kept, bool) else 1
    changed = any(item.get(f) != previous.get(f) for f in ORDER_CONTENT if f in item or f in previous)
    record["revision"] = given if given is not None and given > before else before + int(changed)
    old, new, stamped = previous.get("status"), item.get("status"), item.get("status_at")
    if old != new and (old in STOPPING or new in STOPPING) and stamped in (None, previous.get("status_at")):
        record["status_at"] = isoformat(now)  # a decision sent without its time: now, and only its own reason
        if item.get("status_reason") == previous.get("status_reason"):
            record["status_reason"] = None
    return record


def current_cursor(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT v FROM up_meta WHERE k = 'change_counter'").fetchone()
    return int(row[0]) if row else 0


def reference_since(conn: sqlite3.Connection, since: int, limit: int) -> dict:
    rows = conn.execute("SELECT kind, data, version FROM up_ref WHERE version > ? ORDER BY version LIMIT ?",
                        (since, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    out: dict[str, Any] = {kind: [] for kind in KINDS}
    for row in rows:
        out[row["kind"]].append(json.loads(row["data"]))
    # versions are unique and only grow (writers are serialised), so the last row is the cursor
    cursor = rows[-1]["version"] if rows else max(since, 0)
    out["cursor"] = str(cursor)
    out["more"] = more
    return out


def order_changes(conn: sqlite3.Connection, since: int, limit: int) -> dict:
    """The orders changed after cursor ``since`` (the reference data's cursor), oldest change first: the fast pull of
    the floor's interception (``GET /v1/orders/changes``)."""
    rows = conn.execute("SELECT data, version FROM up_ref WHERE kind = 'orders' AND version > ? ORDER BY version"
                        " LIMIT ?", (since, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"orders": [json.loads(row["data"]) for row in rows],
            "cursor": str(rows[-1]["version"] if rows else max(since, 0)), "more": more}


def get_reference(conn: sqlite3.Connection, kind: str, key: str) -> dict | None:
    row = conn.execute("SELECT data FROM up_ref WHERE kind = ? AND key = ?", (kind, key)).fetchone()
    return json.loads(row[0]) if row else None


# ---- confirmations ----------------------------------------------------------------------------
def validate(item: Any, station: str) -> str | None:
    """Why ``item`` is not an acceptable confirmation, or None."""
    if not isinstance(item, dict):
        return "a confirmation must be a JSON object"
    missing = [f for f in REQUIRED if f not in item]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    for name in ("key", "station", "action", "object_type", "object_id", "location"):
        if not isinstance(item[name], str) or not item[name]:
            return f"{name} must be a non-empty string"
    if item["station"] != station:
        return f"confirmation station {item['station']!r} differs from batch station {station!r}"
    try:
        parsed = parse_id(item["id"])
    except InvalidConfirmationIdError as exc:
        return str(exc)
    if type(item["seq"]) is not int or not 1 <= item["seq"] <= MAX_INT:
        return f"seq must be a whole number from 1 to 2^63-1 (got {str(item['seq'])[:30]})"
    if parsed["station"] != station or parsed["seq"] != item["seq"]:
        return "id does not match station/seq"
    try:
        parse_iso(item["at"])
    except (TypeError, ValueError) as exc:
        return f"at: {exc}"
    if not isinstance(item["payload"], dict):
        return "payload must be an object"
    image = item.get("image_sha256")
    if image is not None and not (isinstance(image, str) and _SHA256.match(image)):
        return "image_sha256 must be 64 lowercase hex digits or null"
    return None


@dataclass(frozen=True)
class Effects:
    """What another part of the WMS does with a new confirmation, in its transaction: ``refusal`` (status, reason)
    before it is stored, ``apply`` once it is (returns: ``sync/upstream/returns.py``)."""

    refusal: Callable[[sqlite3.Connection, dict, bool], "tuple[int, str] | None"]
    apply: Callable[[sqlite3.Connection, dict, datetime], None]


def receive(conn: sqlite3.Connection, station: str, items: list, now: datetime, *, strict_orders: bool,
            effects: Sequence[Effects] = ()) -> list[dict]:
    """Apply a batch inside the caller's transaction; returns one result per item, in order."""
    return receive_many(conn, [(station, items)], now, strict_orders=strict_orders, effects=effects)[0]


def receive_many(conn: sqlite3.Connection, batches: Sequence[tuple[str, list]], now: datetime, *,
                 strict_orders: bool, effects: Sequence[Effects] = ()) -> list[list[dict]]:
    """Apply one request's batches (a station's each, in order) inside the caller's transaction; one result per
    item, batch by batch."""
    answers = []
    counts = {"items": 0, "accepted": 0, "duplicate": 0, "rejected": 0}
    for station, items in batches:
        results = []
        for item in items:
            result = _receive_one(conn, station, item, now, strict_orders, effects)
            counts[result["status"]] += 1
            results.append(result)
        counts["items"] += len(items)
        answers.append(results)
    bump(conn, requests=1, **counts)
    return answers


def _reject(item: Any, reason: str, code: int = 422, error: str | None = None) -> dict:
    ident = item.get("id") if isinstance(item, dict) else None
    answer = {"id": ident, "status": "rejected", "code": code, "reason": reason}
    if error is not None:
        answer["error"] = error  # a machine code the station acts on (e.g. order_cancelled: a conflict to resolve)
    return answer


def _receive_one(conn: sqlite3.Connection, station: str, item: Any, now: datetime, strict_orders: bool,
                 effects: Sequence[Effects] = ()) -> dict:
    problem = validate(item, station)
    if problem:
        return _reject(item, problem, 400)
    mark = fingerprint(item)
    seen = conn.execute("SELECT id, fingerprint, received_at FROM up_confirmations WHERE station = ? AND key = ?",
                        (station, item["key"])).fetchone()
    if seen is not None:
        if seen["fingerprint"] != mark:
            return _reject(item, f"idempotency key reused with a different payload (first used by {seen['id']})")
        return {"id": item["id"], "status": "duplicate", "code": 200, "reason": None,
                "first": {"status": "accepted", "received_at": seen["received_at"]}}
    other = conn.execute("SELECT key FROM up_confirmations WHERE id = ?", (item["id"],)).fetchone()
    if other is not None:
        return _reject(item, "confirmation id already received with another idempotency key"
                             " (was the station database reset?)")
    cancelled = _cancelled_order(conn, item)
    if cancelled is not None:  # never undo a cancellation: refused for good, the station shows it as a conflict
        return _reject(item, f"order {cancelled['order_id']} was cancelled by the WMS at {cancelled.get('status_at')}"
                             f" ({cancelled.get('status_reason') or 'no reason given'}): its {item['action']} is"
                             " refused", 409, ORDER_CANCELLED)
    for more in effects:
        refused = more.refusal(conn, item, strict_orders)
        if refused is not None:
            return _reject(item, refused[1], refused[0])
    if item["object_type"] == "order":
        order = get_reference(conn, "orders", item["object_id"])
        if order is None and strict_orders:
            return _reject(item, f"unknown order {item['object_id']}", 404)
        new_status = ORDER_EFFECTS.get(item["action"])
        if order is not None and new_status and order.get("status") == "held":  # held until the WMS releases it,
            upsert_reference(conn, "orders", [{**order, "held_from": new_status}], now)  # then it is packed
        elif order is not None and new_status and order.get("status") != new_status:
            upsert_reference(conn, "orders", [{**order, "status": new_status}], now)
    for shipped in _shipped_orders(item):
        conn.execute("INSERT OR IGNORE INTO up_shipments (order_id, confirmation_id, action, at) VALUES (?, ?, ?, ?)",
                     (shipped, item["id"], item["action"], item["at"]))
        order = get_reference(conn, "orders", shipped)
        if order is not None and order.get("status") != "shipped":
            upsert_reference(conn, "orders", [{**order, "status": "shipped"}], now)
    at = parse_iso(item["at"])
    conn.execute("INSERT INTO up_confirmations (id, station, key, fingerprint, seq, action, object_type, object_id,"
                 " at, at_utc, received_at, received_utc, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (item["id"], station, item["key"], mark, item["seq"], item["action"], item["object_type"],
                  item["object_id"], item["at"], utc_text(at), isoformat(now), utc_text(now), dumps(item).decode()))
    conn.execute("INSERT INTO up_effects (object_type, object_id, count) VALUES (?, ?, 1) ON CONFLICT"
                 " (object_type, object_id) DO UPDATE SET count = count + 1", (item["object_type"], item["object_id"]))
    for more in effects:
        more.apply(conn, item, now)
    return {"id": item["id"], "status": "accepted", "code": 200, "reason": None, "received_at": isoformat(now)}


def _cancelled_order(conn: sqlite3.Connection, item: dict) -> dict | None:
    """The cancelled order a ``pack``, ``ship_load`` or ``manifest`` names, if any."""
    if item["action"] not in REFUSED_WHEN_CANCELLED:
        return None
    named = _shipped_orders(item) if item["action"] != "pack" else \
        [item["object_id"]] if item["object_type"] == "order" else []
    for order_id in named:
        order = get_reference(conn, "orders", order_id)
        if order is not None and order.get("status") == "cancelled":
            return order
    return None


def _shipped_orders(item: dict) -> list[str]:
    """The orders a confirmation ships: a ``ship_load`` (or old ``load``) of an order, or a dock ``manifest``."""
    if item["object_type"] == "order" and ORDER_EFFECTS.get(item["action"]) == "shipped":
        return [item["object_id"]]
    if item["action"] == "manifest":
        parcels = item["payload"].get("parcels")
        return [p["order_id"] for p in parcels if isinstance(p, dict) and isinstance(p.get("order_id"), str)] \
            if isinstance(parcels, list) else []
    return []


def shipments(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute("SELECT order_id, confirmation_id, action, at FROM up_shipments ORDER BY order_id")
    return [{"order_id": r[0], "confirmation_id": r[1], "action": r[2], "at": r[3]} for r in rows]


def reconcile(conn: sqlite3.Connection, station: str, since: datetime, until: datetime, by: str = "at") -> list[str]:
    column = "at_utc" if by == "at" else "received_utc"
    rows = conn.execute(f"SELECT id FROM up_confirmations WHERE station = ? AND {column} >= ? AND {column} < ?"
                        " ORDER BY seq", (station, utc_text(since), utc_text(until)))
    return [row[0] for row in rows]


def order_confirmations(conn: sqlite3.Connection, order_id: str, station: str | None = None) -> list[dict]:
    """The order's confirmations in arrival order (``station``: that station's only)."""
    rows = conn.execute("SELECT body, received_at FROM up_confirmations WHERE object_type = 'order' AND object_id = ?"
                        " AND (? IS NULL OR station = ?) ORDER BY n", (order_id, station, station))
    return [{**json.loads(row["body"]), "received_at": row["received_at"]} for row in rows]
