"""Every SQL statement of the site hub, run inside transactions the caller opens (``Database.tx``).

Guarantees come from the database: ``UNIQUE (station, key)`` deduplicates confirmations in the
transaction that applies their effect (order stage, lot stock, feed, escalation rows, relay queue);
the claim of an order is its primary key, taken with one ``INSERT … ON CONFLICT … WHERE … RETURNING``;
the feed sequence is a counter row bumped at the end of the writing transaction (``engine.Conn.commit``:
a row lock on PostgreSQL, the single writer on SQLite), so feed numbers are gapless and visible in order; escalations and the
relay are claimed with ``SKIP LOCKED`` (PostgreSQL) before any message leaves.

Claims are checked when confirmations arrive: a confirmation that moves an order's floor stage (``CLAIMED``) from a
table while another table holds the order's claim is kept (exactly once: it is a fact, and it is relayed) and
recorded as a ``not_claim_holder`` conflict (when it was made after that table took the claim: one made before,
arriving late, is only kept), but it does not move the stage. The hub's own confirmations (one
``escalate`` per sent (order, level), one ``escalation_ack`` per acknowledged one) join the relay queue under
``site.code`` with a stable key, in the transaction that records the escalation's state. The dock's parcels are
``parcels.py``.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, NamedTuple

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.common.ids import make_id
from packgate.sync.common.jsonbytes import dumps, fingerprint
from packgate.sync.common.sealing import PREFIX
from packgate.sync.hub import parcels, returns
from packgate.sync.hub.engine import Conn
from packgate.sync.reference import canonical_badge
from packgate.sync.reference_screen import is_older, word_key
from packgate.sync.upstream.store import KINDS, validate

REF_ROWS = 200  # reference rows written by one INSERT (4 parameters each)
MARK_ROWS = 500  # relayed confirmations marked by one UPDATE
MAX_QTY = 10**9  # units of one pick the lot ledger counts (a BIGINT sum of such never overflows)
TERMINAL = frozenset({"packed", "shipped", "cancelled"})
# interception: the station's ``core.order_state`` words as plain strings (the hub may not import the station)
STOPPING = ("held", "cancelled")
REFUSED_WHEN_CANCELLED = ("pack", "ship_load", "load", "manifest")
ORDER_CANCELLED = "order_cancelled"
STAGES = ("open", "picking", "picked", "packing", "weighed", "blocked", "packed", "shipped", "cancelled")
# the milestone a stage records (first time reached)
# the actions of the table that holds an order's claim (a pick is the picker's, a ship_load the dock's: any table)
CLAIMED = frozenset({"open", "scan", "verify", "weigh", "override", "pack", "cancel"})
MILESTONE = {"picking": "picking", "picked": "picked", "packing": "packing", "weighed": "weighed",
             "blocked": "blocked", "packed": "packed", "shipped": "shipped", "cancelled": "cancelled"}


def utc(moment: datetime) -> str:
    return isoformat(moment.astimezone(timezone.utc))


def _json(value: Any) -> str:
    return dumps(value).decode()


def _values(rows: int, width: int) -> str:
    """The placeholders of a multi-row ``VALUES``: ``rows`` rows of ``width`` parameters."""
    return ", ".join([f"({', '.join('?' * width)})"] * rows)


# ---- counters, feed, audit ----------------------------------------------------------------------
def next_counter(conn: Conn, name: str) -> int:
    return int(conn.value("UPDATE hub_counters SET n = n + 1 WHERE name = ? RETURNING n", (name,)))


def feed(conn: Conn, now: datetime, kind: str, subject: str, data: dict[str, Any]) -> None:
    """One change on the feed; numbered at commit (see engine: gapless, in commit order)."""
    conn.feed_row(now, kind, subject, data)


def feed_since(conn: Conn, since: int, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT seq, at, kind, subject, data FROM hub_feed WHERE seq > ? ORDER BY seq LIMIT ?",
                        (since, limit))
    return [{**row, "data": conn.sealer.open_record(json.loads(row["data"]))} for row in rows]


def feed_head(conn: Conn) -> int:
    return int(conn.value("SELECT n FROM hub_counters WHERE name = 'feed'") or 0)


def audit(conn: Conn, now: datetime, who: str, what: str, subject: str, before: Any, after: Any) -> None:
    conn.execute("INSERT INTO hub_audit (at, who, what, subject, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                 (isoformat(now), who, what, subject, _json(before), _json(after)))


def audit_log(conn: Conn, limit: int = 100) -> list[dict[str, Any]]:
    return conn.execute("SELECT at, who, what, subject, before, after FROM hub_audit ORDER BY n DESC LIMIT ?",
                        (limit,))


def conflict(conn: Conn, now: datetime, kind: str, subject: str, detail: dict[str, Any]) -> None:
    conn.execute("INSERT INTO hub_conflicts (at, kind, subject, detail) VALUES (?, ?, ?, ?)",
                 (isoformat(now), kind, subject, _json(detail)))
    feed(conn, now, "conflict", subject, {"kind": kind, **detail})


def conflicts(conn: Conn, open_only: bool = True) -> list[dict[str, Any]]:
    where = " WHERE resolved_at IS NULL" if open_only else ""
    rows = conn.execute(f"SELECT n, at, kind, subject, detail, resolved_by, resolved_at FROM hub_conflicts{where}"
                        " ORDER BY n DESC")
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


def open_conflicts_of(conn: Conn, kind: str, limit: int = 200) -> list[dict[str, Any]]:
    """The conflicts of ``kind`` no one resolved yet, oldest first (every station's supervisor page lists them)."""
    rows = conn.execute("SELECT n, at, kind, subject, detail FROM hub_conflicts WHERE kind = ? AND resolved_at IS NULL"
                        " ORDER BY n LIMIT ?", (kind, limit))
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


def resolve_conflict(conn: Conn, n: int, who: str, note: str, now: datetime,
                     terminal: str | None = None) -> dict[str, Any] | None:
    """``who`` resolves conflict ``n`` with ``note`` (what was done with the parcel), audited once; the conflict
    (``resolved``: by this call), None when there is no such conflict."""
    row = conn.one("UPDATE hub_conflicts SET resolved_by = ?, resolved_at = ? WHERE n = ? AND resolved_at IS NULL"
                   " RETURNING n, kind, subject, detail, resolved_by, resolved_at", (who, isoformat(now), n))
    if row is not None:
        audit(conn, now, who, "resolve_conflict", row["subject"], {"conflict": n, "kind": row["kind"]},
              {"note": note, **({"terminal": terminal} if terminal else {})})
        feed(conn, now, "conflict_resolved", row["subject"], {"n": n, "kind": row["kind"], "by": who})
        return {**row, "resolved": True}
    row = conn.one("SELECT n, kind, subject, detail, resolved_by, resolved_at FROM hub_conflicts WHERE n = ?", (n,))
    return None if row is None else {**row, "resolved": False}


def get_meta(conn: Conn, key: str) -> str | None:
    value = conn.value("SELECT v FROM hub_meta WHERE k = ?", (key,))
    return None if value is None else str(value)


def set_meta(conn: Conn, key: str, value: str | None) -> None:
    conn.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", (key, value))


# ---- reference data (mirrored from the WMS) ------------------------------------------------------
def ref_key(kind: str, item: dict[str, Any]) -> str:
    return "\x1f".join(str(item[f]) for f in KINDS[kind][0])


def upsert_ref(conn: Conn, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Store (kind, row) pairs from WMS pages under the hub's own version counter, in their order (a key given
    twice keeps its last row); returns the rows stored. An order's record older than the one stored (the fast pull
    already stored a later decision than a slower page), or the same as the one stored, is skipped (the stations
    fetch only what changed). One counter bump and one INSERT per ``REF_ROWS`` rows."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    valid = [(kind, item) for kind, item in rows if isinstance(item, dict) and all(f in item for f in KINDS[kind][0])]
    stored = _ref_many(conn, "orders", [ref_key(kind, item) for kind, item in valid if kind == "orders"])
    for kind, item in valid:
        key = (kind, ref_key(kind, item))
        if kind == "orders" and is_older(item, latest[key] if key in latest else stored.get(key[1])):
            continue
        if kind == "orders" and key not in latest and stored.get(key[1]) == item:
            continue  # stored as it is (the fast pull brought it first): no new version, nothing to fetch again
        latest.pop(key, None)  # moved to the end: it takes the later version
        latest[key] = item
    if not latest:
        return 0
    last = int(conn.value("UPDATE hub_counters SET n = n + ? WHERE name = 'ref' RETURNING n", (len(latest),)))
    numbered = [(kind, key, _json(conn.sealer.seal_record(item)), last - len(latest) + 1 + offset)
                for offset, ((kind, key), item) in enumerate(latest.items())]
    for start in range(0, len(numbered), REF_ROWS):
        chunk = numbered[start:start + REF_ROWS]
        conn.execute("INSERT INTO hub_ref (kind, key, data, version) VALUES " + _values(len(chunk), 4)
                     + " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, version = excluded.version",
                     [value for row in chunk for value in row])
    return len(numbered)


def ref_cursor(conn: Conn) -> int:
    return int(conn.value("SELECT n FROM hub_counters WHERE name = 'ref'") or 0)


def reference_page(conn: Conn, since: int, limit: int) -> bytes:
    """The JSON page of reference rows after version ``since``: ``{kind: [...], "cursor", "more"}``, the rows'
    stored JSON spliced as it is (never parsed and serialised again)."""
    rows = conn.execute("SELECT kind, data, version FROM hub_ref WHERE version > ? ORDER BY version LIMIT ?",
                        (since, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    texts: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for row in rows:
        data = row["data"]
        if PREFIX in data:  # personal values sealed at rest: opened for the station (which seals them again)
            data = json.dumps(conn.sealer.open_record(json.loads(data)), ensure_ascii=False, separators=(",", ":"))
        texts[row["kind"]].append(data)
    cursor = rows[-1]["version"] if rows else max(since, 0)
    lists = ",".join(f'"{kind}":[{",".join(items)}]' for kind, items in texts.items())
    return f'{{{lists},"cursor":"{cursor}","more":{"true" if more else "false"}}}'.encode()


def _ref_many(conn: Conn, kind: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored rows of ``kind`` among ``keys``, as stored (sealed values stay sealed)."""
    return {key: json.loads(row["data"]) for key, row in _rows_by_key(
        conn, "SELECT key, data FROM hub_ref WHERE kind = ? AND key IN ({})", [kind], "key", keys).items()}


def ref_get(conn: Conn, kind: str, key: str) -> dict[str, Any] | None:
    data = conn.value("SELECT data FROM hub_ref WHERE kind = ? AND key = ?", (kind, key))
    return conn.sealer.open_record(json.loads(data)) if data else None


def ref_all(conn: Conn, kind: str) -> list[dict[str, Any]]:
    return [conn.sealer.open_record(json.loads(row["data"]))
            for row in conn.execute("SELECT data FROM hub_ref WHERE kind = ?", (kind,))]


def employee_by_badge(conn: Conn, badge: str) -> dict[str, Any] | None:
    wanted = canonical_badge(badge)
    for employee in ref_all(conn, "employees"):
        if wanted and canonical_badge(str(employee.get("badge_uid", ""))) == wanted:
            return employee
    return None


def employee_name(conn: Conn, employee_id: str | None) -> str | None:
    if not employee_id:
        return None
    employee = ref_get(conn, "employees", employee_id)
    return str(employee.get("name") or employee_id) if employee else employee_id


# ---- confirmations: dedup, relay queue and the order flow in one transaction -------------------
class Checked(NamedTuple):
    """A confirmation checked and frozen before its write transaction (``check``): the writer queue holds the
    database for the statements only."""

    item: Any
    problem: str | None
    frozen: bytes  # the stored body and, hashed, the fingerprint (one serialisation for both)
    mark: str
    at_utc: str | None


def check(station: str, items: list[Any]) -> list[Checked]:
    """Validate and freeze ``items`` (no database): what ``receive`` does before its statements."""
    checked = []
    for item in items:
        problem = validate(item, station)
        if problem:
            checked.append(Checked(item, problem, b"", "", None))
            continue
        frozen = dumps(item)
        checked.append(Checked(item, None, frozen, hashlib.sha256(frozen).hexdigest(), utc(parse_iso(item["at"]))))
    return checked


def receive(conn: Conn, station: str, items: list[Any] | list[Checked], now: datetime,
            rules: "FlowRules") -> list[dict[str, Any]]:
    """Apply a station's batch (raw items, or ``check``'s output) inside the caller's transaction."""
    return receive_many(conn, [(station, items)], now, rules)[0]


def receive_many(conn: Conn, batches: list[tuple[str, list[Any]]], now: datetime,
                 rules: "FlowRules") -> list[list[dict[str, Any]]]:
    """Apply the batches of several stations in order, as ``receive`` one after the other would, inside the caller's
    transaction; their orders are read and their confirmations stored by a few statements for all (``Ahead``)."""
    received = (isoformat(now), utc(now))
    flat = [(station, one if isinstance(one, Checked) else check(station, [one])[0])
            for station, items in batches for one in items]
    ahead = Ahead(conn, flat, received)
    answers = [_receive_one(conn, station, checked, now, received, rules, ahead) for station, checked in flat]
    ahead.flush(conn)
    split, start = [], 0
    for _, items in batches:
        split.append(answers[start:start + len(items)])
        start += len(items)
    return split


class Ahead:
    """What the confirmations of one ``receive_many`` need from the database, read and written for all of them at
    once: the orders they name (the rows, for update on PostgreSQL, in order_id order), the WMS's reference of those
    not yet on the floor, the confirmations one INSERT stored (each answered as new once), and the orders' rows as
    their effects leave them, written by ``flush`` (one INSERT for the new, one upsert for the others). Only the
    effects write ``hub_orders`` while a receipt runs, and they read it through here: a row moved twice is read the
    second time as the first left it."""

    def __init__(self, conn: Conn, flat: list[tuple[str, Checked]], received: tuple[str, str]):
        items = [checked.item for _, checked in flat if checked.problem is None]
        named = {str(order) for item in items for order in (*_named_orders(item), _target(item)[0])
                 if isinstance(order, str)}
        self.orders = _rows_by_key(conn, "SELECT * FROM hub_orders WHERE order_id IN ({}) ORDER BY order_id"
                                   + conn.dialect.for_update, [], "order_id", named)
        self.absent = named - self.orders.keys()  # read, and not on the floor yet
        self.cancelled = {key: {"order_id": key, "wms_reason": row["wms_reason"], "wms_at": row["wms_at"]}
                          for key, row in self.orders.items() if row["wms_status"] == "cancelled"}
        self.refs = {key: conn.sealer.open_record(record)
                     for key, record in _ref_many(conn, "orders", self.absent).items()}
        self.stored = _store_confirmations(conn, [(station, checked) for station, checked in flat if checked.problem
                                                  is None and self.cancelled_order(checked.item) is None], received)
        self.moved: dict[str, tuple[bool, dict[str, Any]]] = {}  # order_id: (a new row, the row as it is now)

    def cancelled_order(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """``_cancelled_order`` from what was read (only the WMS cancels: no confirmation changes it)."""
        return _cancelled_order(item, self.cancelled.get)

    def take_stored(self, station: str, item: dict[str, Any]) -> bool:
        """Whether the INSERT stored this confirmation (True once: a repeat of it in the same call is a repeat)."""
        mark = (station, item["key"], item["id"])
        if mark in self.stored:
            self.stored.discard(mark)
            return True
        return False

    def take_order(self, conn: Conn, order_id: str) -> dict[str, Any] | None:
        if order_id in self.absent and order_id not in self.moved:
            return None
        if order_id not in self.moved and order_id not in self.orders:
            return get_order(conn, order_id)
        row = self.moved[order_id][1] if order_id in self.moved else self.orders.pop(order_id)
        return {**row, "milestones": json.loads(row["milestones"])}

    def put_order(self, row: dict[str, Any], new: bool) -> None:
        """The order's row as its effect leaves it (``milestones`` as text), written by ``flush``."""
        was_new = self.moved.get(row["order_id"], (False, None))[0]
        self.moved[row["order_id"]] = (new or was_new, row)

    def flush(self, conn: Conn) -> None:
        """Write the orders moved so far; what was read before is read again from here on."""
        rows = [(new, row) for new, row in self.moved.values()]
        self.moved.clear()
        self.orders.clear()
        self.absent.clear()
        for new in (True, False):
            chosen = sorted((row for is_new, row in rows if is_new is new), key=lambda row: row["order_id"])
            for start in range(0, len(chosen), ORDER_ROWS):
                chunk = chosen[start:start + ORDER_ROWS]
                conn.write_later(f"INSERT INTO hub_orders ({', '.join(ORDER_COLUMNS)}) VALUES "
                                 + _values(len(chunk), len(ORDER_COLUMNS)) + ("" if new else ORDER_MOVED),
                                 [row[column] for row in chunk for column in ORDER_COLUMNS])

    def ref(self, conn: Conn, order_id: str) -> dict[str, Any] | None:
        if order_id in self.refs or order_id in self.absent:
            return self.refs.get(order_id)
        return ref_get(conn, "orders", order_id)


def _rows_by_key(conn: Conn, sql: str, params: list[Any], column: str, keys: Iterable[str]
                 ) -> dict[str, dict[str, Any]]:
    """The rows of ``sql`` (``params``, then its ``IN ({})`` filled with ``keys``, at most ``MARK_ROWS`` a
    statement) by ``column``."""
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), MARK_ROWS):
        chunk = unique[start:start + MARK_ROWS]
        for row in conn.execute(sql.format(", ".join("?" * len(chunk))), [*params, *chunk]):
            found[str(row[column])] = row
    return found


ORDER_COLUMNS = ("order_id", "stage", "stage_since", "station", "operator", "priority", "milestones", "packed_by",
                 "updated_at")
ORDER_MOVED = (" ON CONFLICT (order_id) DO UPDATE SET stage = excluded.stage, stage_since = excluded.stage_since,"
               " station = excluded.station, operator = excluded.operator, milestones = excluded.milestones,"
               " packed_by = excluded.packed_by, updated_at = excluded.updated_at")  # what an effect changes
ORDER_ROWS = 200  # orders written by one statement (9 parameters each)
CONFIRMATION_COLUMNS = ("id, station, key, fingerprint, seq, action, object_type, object_id, operator, at, at_utc,"
                        " received_at, received_utc, body, next_attempt_at")
CONFIRMATION_ROWS = 200  # confirmations stored by one INSERT (15 parameters each)


def _store_confirmations(conn: Conn, flat: list[tuple[str, Checked]], received: tuple[str, str]
                         ) -> set[tuple[str, str, str]]:
    """Insert the confirmations (those whose (station, key) or id is stored already stay out); the (station, key,
    id) of each stored."""
    stored: set[tuple[str, str, str]] = set()
    for start in range(0, len(flat), CONFIRMATION_ROWS):
        chunk = flat[start:start + CONFIRMATION_ROWS]
        values: list[Any] = []
        for station, checked in chunk:
            item = checked.item
            values += (item["id"], station, item["key"], checked.mark, item["seq"], item["action"],
                       item["object_type"], item["object_id"], item.get("operator"), item["at"], checked.at_utc,
                       received[0], received[1], checked.frozen.decode(), received[1])
        rows = conn.execute(f"INSERT INTO hub_confirmations ({CONFIRMATION_COLUMNS}) VALUES "
                            + _values(len(chunk), 15)
                            + " ON CONFLICT DO NOTHING RETURNING station, key, id", values)
        stored.update((row["station"], row["key"], row["id"]) for row in rows)
    return stored


def _reject(item: Any, reason: str, code: int, error: str | None = None) -> dict[str, Any]:
    ident = item.get("id") if isinstance(item, dict) else None
    answer = {"id": ident, "status": "rejected", "code": code, "reason": reason}
    if error is not None:
        answer["error"] = error
    return answer


def _receive_one(conn: Conn, station: str, checked: Checked, now: datetime, received: tuple[str, str],
                 rules: "FlowRules", ahead: Ahead) -> dict[str, Any]:
    item = checked.item
    if checked.problem:
        return _reject(item, checked.problem, 400)
    cancelled = ahead.cancelled_order(item)
    if cancelled is None:
        # the insert is the dedup check (``Ahead``): the lookups only for a repeated confirmation
        if ahead.take_stored(station, item):
            conn.publish(now, "confirmation", str(item["object_id"]), {
                "id": item["id"], "station": station, "action": item["action"], "object_type": item["object_type"],
                "object_id": item["object_id"], "operator": item.get("operator"), "device": item.get("device"),
                "location": item.get("location"), "at": item["at"], "received_at": isoformat(now),
                "payload": item.get("payload")})
            apply_effect(conn, station, item, now, rules, ahead)
            returns.apply(conn, station, item)
            for hook in rules.on_received:  # the site policies (``policies.on_confirmation``): reviews, switches, alerts
                hook(conn, station, item, now)
            return {"id": item["id"], "status": "accepted", "code": 200, "reason": None, "received_at": received[0]}
    before = _received_before(conn, station, checked, now, received, rules, ahead)
    if before is not None:  # a repeat is answered as the first was, even for an order cancelled since
        return before
    if cancelled is not None:  # never relayed: the WMS must not be told it was packed or shipped
        return _reject(item, f"order {cancelled['order_id']} was cancelled by the WMS at {cancelled['wms_at']}"
                             f" ({cancelled['wms_reason'] or 'no reason given'}): its {item['action']} is refused",
                       409, ORDER_CANCELLED)
    return _again(conn, station, checked, now, received, rules, ahead)  # the row in the way is gone: insert again


def _again(conn: Conn, station: str, checked: Checked, now: datetime, received: tuple[str, str], rules: "FlowRules",
           ahead: Ahead) -> dict[str, Any]:
    """Receive ``checked`` once more, its own reads and INSERT done now (what the call moved so far written first)."""
    ahead.flush(conn)
    alone = Ahead(conn, [(station, checked)], received)
    answer = _receive_one(conn, station, checked, now, received, rules, alone)
    alone.flush(conn)
    return answer


def _received_before(conn: Conn, station: str, checked: Checked, now: datetime, received: tuple[str, str],
                     rules: "FlowRules", ahead: Ahead) -> dict[str, Any] | None:
    """The answer to a confirmation whose key or id is already stored (by this request, another or another hub);
    None when neither is."""
    item, mark = checked.item, checked.mark
    seen = conn.one("SELECT id, fingerprint, received_at FROM hub_confirmations WHERE station = ? AND key = ?",
                    (station, item["key"]))
    if seen is not None:
        if seen["fingerprint"] != mark:
            return _reject(item, f"idempotency key reused with a different payload (first used by {seen['id']})", 422)
        return {"id": item["id"], "status": "duplicate", "code": 200, "reason": None,
                "first": {"status": "accepted", "received_at": seen["received_at"]}}
    if conn.one("SELECT 1 AS x FROM hub_confirmations WHERE id = ?", (item["id"],)):
        if conn.one("SELECT 1 AS x FROM hub_confirmations WHERE station = ? AND key = ?", (station, item["key"])):
            return _again(conn, station, checked, now, received, rules, ahead)  # another hub committed it meanwhile
        return _reject(item, "confirmation id already received with another idempotency key"
                             " (was the station database reset?)", 422)
    return None


class FlowRules:
    """The timings the order flow needs (from site.toml)."""

    def __init__(self, first_after_min: float, second_after_min: float,
                 on_received: tuple[Callable[[Conn, str, dict[str, Any], datetime], None], ...] = ()):
        self.levels = ((1, timedelta(minutes=first_after_min)), (2, timedelta(minutes=second_after_min)))
        self.on_received = on_received  # what else a new confirmation means, in its receipt's transaction


def _target(item: dict[str, Any]) -> tuple[str | None, str | None]:
    """(order id, new stage) a confirmation means for the site's order flow."""
    action, kind, payload = item["action"], item["object_type"], item["payload"]
    if kind == "tote" and action in ("load", "tote_load"):  # "load": stations not yet updated
        order = payload.get("order_id")
        return (order if isinstance(order, str) else None), "picked"
    if kind in ("parcel", "order") and action in ("load", "ship_load"):
        order = item["object_id"] if kind == "order" else payload.get("order_id")
        return (order if isinstance(order, str) else None), "shipped"
    if kind != "order":
        return None, None
    if action == "pick":
        return item["object_id"], "picking"
    if action in ("scan", "verify", "open"):
        return item["object_id"], "packing"
    if action == "weigh":
        return item["object_id"], "weighed" if payload.get("result") == "pass" else "blocked"
    if action == "override" and payload.get("kind") == "weight":
        return item["object_id"], "weighed"
    if action == "pack":  # weigh-and-ship: the passing weighing is the shipment, no dock hand-over follows
        return item["object_id"], "shipped" if payload.get("shipped") else "packed"
    if action == "cancel":  # a Stop: the stage is the one before the order was opened (``apply_effect``)
        return item["object_id"], "cancelled" if payload.get("scope") == "order" else STOPPED
    return item["object_id"], None


STOPPED = "stopped"  # ``_target``'s word for a Stop, resolved against the order's milestones


def _before_opened(milestones: dict[str, Any]) -> str:
    """The stage an order had before a table opened it: picked only if it was picked."""
    return "picked" if "picked" in milestones else "picking" if "picking" in milestones else "open"


def get_order(conn: Conn, order_id: str) -> dict[str, Any] | None:
    row = conn.one("SELECT * FROM hub_orders WHERE order_id = ?", (order_id,))
    if row is None:
        return None
    row["milestones"] = json.loads(row["milestones"])
    return row


def apply_effect(conn: Conn, station: str, item: dict[str, Any], now: datetime, rules: FlowRules,
                 ahead: Ahead) -> None:
    order_id, stage = _target(item)
    payload = item["payload"]
    if order_id is None:
        return
    order = ahead.take_order(conn, order_id)
    fresh = order is None  # its row is written once, with the stage it moves to (one statement, not two)
    if order is None:
        ref = ahead.ref(conn, order_id) or {}
        order = {"order_id": order_id, "stage": "open", "stage_since": isoformat(now), "station": None,
                 "operator": None, "priority": int(ref.get("priority") or 0), "priority_released": 0,
                 "milestones": {}, "packed_by": None}

    def opened() -> None:  # the new order's row as it was first seen, when its stage does not move
        if fresh:
            ahead.put_order({"order_id": order_id, "stage": "open", "stage_since": isoformat(now), "station": None,
                             "operator": None, "priority": order["priority"], "milestones": "{}", "packed_by": None,
                             "updated_at": isoformat(now)}, new=True)

    if item["action"] == "pick" and isinstance(payload.get("sku"), str):
        order["milestones"]["lots_at_pick"] = True
        take_lot(conn, now, payload["sku"], payload.get("lot"), payload.get("qty"), station, order_id)
    if item["object_type"] == "order" and item["action"] in CLAIMED:
        holder = get_claim(conn, order_id)
        if holder is not None and holder["station"] != station:
            if on_hub_clock(conn, station, item["at"]) >= parse_iso(holder["claimed_at"]):  # while the other held it
                conflict(conn, now, "not_claim_holder", order_id,
                         {"order_id": order_id, "station": station, "holder": holder["station"],
                          "action": item["action"], "confirmation": item["id"]})
            return opened()  # (or before it took the order, arriving late: the holder's stage and lot stock stand)
    if item["action"] == "pack":
        if order["stage"] in ("packed", "shipped") and order.get("packed_by") != station:
            conflict(conn, now, "packed_twice", order_id,
                     {"order_id": order_id, "first_station": order.get("packed_by"), "second_station": station,
                      "confirmation": item["id"]})
            return opened()
        if not order["milestones"].get("lots_at_pick"):
            for unit in payload.get("units") or []:
                if isinstance(unit, dict) and isinstance(unit.get("sku"), str):
                    take_lot(conn, now, unit["sku"], unit.get("lot"), 1, station, order_id)
    if item["action"] == "pack":
        parcels.packed(conn, order_id, station, item.get("operator"), payload.get("waybill"), item["at"],
                       bool(payload.get("shipped")))
    elif stage == "shipped" and item["action"] in ("load", "ship_load"):
        _handed_over(conn, now, order_id, station, item)
    if stage == STOPPED:
        stage = _before_opened(order["milestones"])
    if stage is None or not _may_move(order["stage"], stage):
        return opened()
    milestones = order["milestones"]  # the hub's clock: comparable across stations whatever their clocks say
    if stage in MILESTONE:  # "open" (a Stop of an order nobody picked) is no milestone
        milestones.setdefault(MILESTONE[stage], isoformat(now))
    if item["action"] == "pack":
        milestones.setdefault("packed", isoformat(now))
    packed_by = station if item["action"] == "pack" else order.get("packed_by")
    ahead.put_order({**order, "stage": stage, "stage_since": isoformat(now), "station": station,
                     "operator": item.get("operator"), "milestones": _json(milestones), "packed_by": packed_by,
                     "updated_at": isoformat(now)}, new=fresh)
    feed(conn, now, "order_stage", order_id, {"order_id": order_id, "stage": stage, "from": order["stage"],
                                              "station": station, "operator": item.get("operator"),
                                              "device": item.get("device"), "location": item.get("location"),
                                              "at": item["at"], "confirmation": item["id"]})
    if stage == "picked" and item["action"] in ("load", "tote_load") \
            and order.get("wms_status") != "cancelled":  # a pick, never a Stop, schedules them
        # due from when the hub received the pick: a station's clock never moves it; paused while the WMS holds it
        held_at = utc(now) if order.get("wms_status") == "held" else None
        for level, after in rules.levels:
            conn.execute("INSERT INTO hub_escalations (order_id, level, due_utc, state, held_at)"
                         " VALUES (?, ?, ?, 'pending', ?) ON CONFLICT (order_id, level) DO NOTHING",
                         (order_id, level, utc(now + after), held_at))
    if stage in TERMINAL:
        conn.execute("DELETE FROM hub_releases WHERE order_id = ?", (order_id,))
        conn.execute("UPDATE hub_escalations SET state = 'void' WHERE order_id = ? AND state = 'pending'", (order_id,))
        released = conn.execute("DELETE FROM hub_claims WHERE order_id = ? RETURNING station", (order_id,))
        if released:
            feed(conn, now, "claim_released", order_id, {"order_id": order_id, "station": released[0]["station"],
                                                         "why": stage})


def _handed_over(conn: Conn, now: datetime, order_id: str, station: str, item: dict[str, Any]) -> None:
    """A ``ship_load``: the parcel left in the batch it names; another batch holding it (two docks, one of them
    offline) is a conflict."""
    batch = item["payload"].get("batch_id")
    before = parcels.shipped(conn, order_id, batch, station, item["at"])
    if before is not None and before["batch_id"] and isinstance(batch, str) and before["batch_id"] != batch:
        conflict(conn, now, "handed_over_twice", order_id,
                 {"order_id": order_id, "batch_id": batch, "station": station, "held_by_batch": before["batch_id"],
                  "confirmation": item["id"]})


def _may_move(current: str, new: str) -> bool:
    if current == new:
        return False
    if current in ("shipped", "cancelled"):
        return False
    if current == "packed":
        return new == "shipped"
    return True


def take_lot(conn: Conn, now: datetime, sku: str, lot: Any, qty: Any, station: str, order_id: str) -> None:
    if not isinstance(lot, str) or not lot or not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= MAX_QTY:
        return
    taken = int(conn.value("INSERT INTO hub_lot_taken (sku, lot, taken) VALUES (?, ?, ?) ON CONFLICT (sku, lot)"
                           " DO UPDATE SET taken = hub_lot_taken.taken + excluded.taken RETURNING taken",
                           (sku, lot, qty)))
    ref = ref_get(conn, "lots", f"{sku}\x1f{lot}") or {}
    stock = ref.get("qty") if isinstance(ref.get("qty"), int) else None
    left = None if stock is None else stock - taken
    feed(conn, now, "lot_taken", f"{sku}/{lot}", {"sku": sku, "lot": lot, "taken": taken, "qty": stock, "left": left,
                                                  "station": station, "order_id": order_id})
    if left is not None and left < 0:
        conflict(conn, now, "lot_overdrawn", f"{sku}/{lot}",
                 {"sku": sku, "lot": lot, "qty": stock, "taken": taken, "station": station, "order_id": order_id})


def lots_taken(conn: Conn) -> dict[tuple[str, str], int]:
    return {(row["sku"], row["lot"]): int(row["taken"]) for row in conn.execute("SELECT sku, lot, taken FROM hub_lot_taken")}


def orders_in_flow(conn: Conn) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM hub_orders WHERE stage NOT IN ('packed', 'shipped', 'cancelled')"
                        " ORDER BY stage_since")
    for row in rows:
        row["milestones"] = json.loads(row["milestones"])
    return rows


def packed_orders(conn: Conn, since: datetime) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT order_id, packed_by, milestones FROM hub_orders WHERE stage IN ('packed', 'shipped')"
                        " AND updated_at >= ?", (isoformat(since),))
    for row in rows:
        row["milestones"] = json.loads(row["milestones"])
    return rows


def not_handed_over(conn: Conn, packed_before: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """Parcels packed before ``packed_before`` and not yet handed over at the dock, the oldest first (at most
    ``limit``: a site that does not scan at the dock would otherwise list every parcel it ever packed)."""
    rows = []
    for row in conn.execute("SELECT order_id, packed_by, milestones FROM hub_orders WHERE stage = 'packed'"
                            " ORDER BY stage_since LIMIT ?", (limit,)):
        packed_at = json.loads(row["milestones"]).get("packed")
        if isinstance(packed_at, str) and parse_iso(packed_at) <= packed_before:
            rows.append({"order_id": row["order_id"], "station": row["packed_by"], "packed_at": packed_at})
    return sorted(rows, key=lambda r: parse_iso(r["packed_at"]))


def pack_times(conn: Conn, since: datetime) -> list[dict[str, Any]]:
    """Packs received since ``since`` (the hub's clock), as ``station`` and ``at_utc``."""
    return conn.execute("SELECT station, received_utc AS at_utc FROM hub_confirmations WHERE action = 'pack'"
                        " AND received_utc >= ? ORDER BY received_utc", (utc(since),))


def open_orders(conn: Conn) -> list[dict[str, Any]]:
    """Every order of the floor not yet handed over or cancelled (the dashboard's list), milestones decoded."""
    rows = conn.execute("SELECT order_id, stage, stage_since, station, operator, priority, milestones, packed_by,"
                        " wms_status FROM hub_orders WHERE stage NOT IN ('shipped', 'cancelled')")
    for row in rows:
        row["milestones"] = json.loads(row["milestones"])
    return rows


def orders_updated_since(conn: Conn, since: datetime) -> list[dict[str, Any]]:
    """Orders whose floor state changed since ``since`` (the hub's clock): the dashboard's stage times."""
    rows = conn.execute("SELECT order_id, stage, milestones FROM hub_orders WHERE updated_at >= ?", (isoformat(since),))
    for row in rows:
        row["milestones"] = json.loads(row["milestones"])
    return rows


def parcels_since(conn: Conn, since: datetime) -> list[dict[str, Any]]:
    """Parcels packed or shipped from about ``since`` (stations' times carry their own offsets: a day of margin;
    the caller compares exactly)."""
    margin = utc(since - timedelta(days=1))
    return conn.execute("SELECT order_id, station, operator, packed_at, shipped_at, batch_station FROM hub_parcels"
                        " WHERE packed_at >= ? OR shipped_at >= ?", (margin, margin))


def weighings_since(conn: Conn, since: datetime) -> list[tuple[str, bool]]:
    """``(station, passed)`` of every weighing received since ``since`` (the hub's clock)."""
    out = []
    for row in conn.execute("SELECT station, body FROM hub_confirmations WHERE action = 'weigh' AND received_utc >= ?",
                            (utc(since),)):
        payload = json.loads(row["body"]).get("payload") or {}
        out.append((row["station"], isinstance(payload, dict) and payload.get("result") == "pass"))
    return out


def intercepted_since(conn: Conn, since: datetime) -> int:
    """Orders the WMS held or cancelled since ``since`` (its decision's time, or when the hub kept it)."""
    rows = conn.execute("SELECT wms_at, updated_at FROM hub_orders WHERE wms_status IN ('held', 'cancelled')")
    return sum(1 for row in rows if parse_iso(row["wms_at"] or row["updated_at"]) >= since)


def order_confirmations(conn: Conn, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT body, received_at FROM hub_confirmations WHERE object_type = 'order'"
                        " AND object_id = ? ORDER BY n", (order_id,))
    return [{**json.loads(row["body"]), "received_at": row["received_at"]} for row in rows]


def reconcile(conn: Conn, station: str, since: datetime, until: datetime, by: str) -> list[str]:
    column = "at_utc" if by == "at" else "received_utc"
    return [row["id"] for row in conn.execute(
        f"SELECT id FROM hub_confirmations WHERE station = ? AND {column} >= ? AND {column} < ? ORDER BY seq",
        (station, utc(since), utc(until)))]


# ---- relay queue ---------------------------------------------------------------------------------
def take_lease(conn: Conn, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
    """Hold ``name`` until now + ttl (renewing our own); False while another holder's lease runs."""
    row = conn.one("INSERT INTO hub_leases (name, holder, until_utc) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                   " SET holder = excluded.holder, until_utc = excluded.until_utc"
                   " WHERE hub_leases.holder = excluded.holder OR hub_leases.until_utc < ? RETURNING holder",
                   (name, holder, utc(now + timedelta(seconds=ttl_s)), utc(now)))
    return row is not None


def give_back_lease(conn: Conn, name: str, holder: str) -> None:
    """End ``holder``'s lease now (a hub stopping): the next hub to ask takes it."""
    conn.execute("UPDATE hub_leases SET until_utc = '' WHERE name = ? AND holder = ?", (name, holder))


def lease_holder(conn: Conn, name: str, now: datetime) -> str | None:
    """Who holds ``name`` now (None: nobody, or a lease run out)."""
    row = conn.one("SELECT holder, until_utc FROM hub_leases WHERE name = ?", (name,))
    return str(row["holder"]) if row and row["until_utc"] >= utc(now) else None


def relay_due_stations(conn: Conn, now: datetime, limit: int) -> list[str]:
    """Stations with a pending row due, in the order their first due row arrived (at most ``limit``)."""
    rows = conn.execute("SELECT station, MIN(n) AS first_n FROM hub_confirmations WHERE relay_state = 'pending'"
                        " AND next_attempt_at <= ? GROUP BY station ORDER BY first_n LIMIT ?", (utc(now), limit))
    return [str(row["station"]) for row in rows]


def relay_batch(conn: Conn, station: str, limit: int) -> list[dict[str, Any]]:
    return conn.execute("SELECT id, station, seq, body, attempts FROM hub_confirmations WHERE station = ?"
                        " AND relay_state = 'pending' ORDER BY seq LIMIT ?", (station, limit))


def relay_next_wait(conn: Conn, now: datetime) -> float | None:
    value = conn.value("SELECT MIN(next_attempt_at) FROM hub_confirmations WHERE relay_state = 'pending'")
    return None if value is None else max(0.0, (parse_iso(str(value)) - now).total_seconds())


def relay_mark_many(conn: Conn, marks: list[tuple[str, str, str | None, str | None]], now: datetime) -> None:
    """Record the WMS's answers: (id, state sent/dead, upstream status, error) per row still pending, one UPDATE per
    ``MARK_ROWS`` rows of the same outcome; an order packed or shipped whose confirmation was sent gets its
    ``synced`` milestone (the first time); a dead letter of an order the WMS cancelled is an ``order_cancelled``
    conflict."""
    outcomes: dict[tuple[str, str | None, str | None], list[str]] = {}
    for conf_id, state, status, error in marks:
        outcomes.setdefault((state, status, error), []).append(conf_id)
    orders: set[str] = set()
    for (state, status, error), ids in outcomes.items():
        for start in range(0, len(ids), MARK_ROWS):
            chunk = ids[start:start + MARK_ROWS]
            rows = conn.execute("UPDATE hub_confirmations SET relay_state = ?, upstream_status = ?, last_error = ?,"
                                " sent_at = ?, attempts = attempts + 1 WHERE relay_state = 'pending' AND id IN ("
                                + ", ".join("?" * len(chunk)) + ") RETURNING object_type, object_id"
                                + (", body" if state == "dead" else ""),
                                [state, status, error, isoformat(now), *chunk])
            if state == "sent":
                orders.update(row["object_id"] for row in rows if row["object_type"] == "order")
            elif state == "dead":
                for row in rows:
                    _dead_of_cancelled(conn, row["body"], status, error, now)
    # only the packed or shipped ones, one look per MARK_ROWS; read for update as a receipt reads them (``Ahead``):
    # neither writes back milestones the other wrote meanwhile
    for order in _rows_by_key(conn, "SELECT order_id, milestones FROM hub_orders WHERE stage IN ('packed', 'shipped')"
                              " AND order_id IN ({}) ORDER BY order_id" + conn.dialect.for_update, [], "order_id",
                              orders).values():
        milestones = json.loads(order["milestones"])
        if "synced" not in milestones:
            milestones["synced"] = isoformat(now)
            conn.execute("UPDATE hub_orders SET milestones = ? WHERE order_id = ?", (_json(milestones),
                                                                                    order["order_id"]))


def _dead_of_cancelled(conn: Conn, body: str, status: str | None, error: str | None, now: datetime) -> None:
    """A pack or ship of an order the WMS cancelled while the hub did not know yet, refused by the WMS: a conflict.
    The WMS's word (``order_cancelled``) is enough: its refusal may come before the hub's order pull has brought the
    cancellation itself."""
    try:
        item = json.loads(body)
    except ValueError:  # a body the WMS could not read is dead for that reason, not a cancelled order's
        return
    if not isinstance(item, dict):
        return
    cancelled = _cancelled_order(item, lambda order_id: conn.one(
        "SELECT order_id, wms_reason, wms_at FROM hub_orders WHERE order_id = ? AND wms_status = 'cancelled'",
        (order_id,)))
    if cancelled is None and status == ORDER_CANCELLED:
        named = [order for order in _named_orders(item) if isinstance(order, str)]
        cancelled = {"order_id": named[0], "wms_reason": None} if named else None
    if cancelled is not None:
        conflict(conn, now, ORDER_CANCELLED, cancelled["order_id"],
                 {"order_id": cancelled["order_id"], "station": item["station"], "action": item["action"],
                  "confirmation": item["id"], "reason": error, "wms_reason": cancelled["wms_reason"]})


def relay_retry_later(conn: Conn, ids: list[str], error: str, next_at: datetime) -> None:
    for conf_id in ids:
        conn.execute("UPDATE hub_confirmations SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                     " WHERE id = ? AND relay_state = 'pending'", (utc(next_at), error, conf_id))


def relay_status(conn: Conn, now: datetime) -> dict[str, Any]:
    counts = {"pending": 0, "sent": 0, "dead": 0}
    for row in conn.execute("SELECT relay_state, COUNT(*) AS c FROM hub_confirmations GROUP BY relay_state"):
        counts[row["relay_state"]] = int(row["c"])
    head = conn.one("SELECT received_at, last_error FROM hub_confirmations WHERE relay_state = 'pending'"
                    " ORDER BY n LIMIT 1")
    age = round((now - parse_iso(head["received_at"])).total_seconds(), 3) if head else None
    return {"depth": counts["pending"], "sent": counts["sent"], "dead": counts["dead"],
            "oldest_unsent_at": head["received_at"] if head else None, "oldest_age_s": age,
            "lag_s": max(0.0, age or 0.0), "last_error": head["last_error"] if head else None}


def dead_letters(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("SELECT id, station, action, object_id, last_error FROM hub_confirmations"
                        " WHERE relay_state = 'dead' ORDER BY n")


# ---- the WMS's word on orders (interception, 订单拦截) ---------------------------------------------------------
_WORD_COLUMNS = "stage, wms_status, wms_reason, wms_at, wms_revision"


def wms_words(conn: Conn, now: datetime, rows: list[Any]) -> list[str | None]:
    """``wms_word`` for each of ``rows`` in turn, the orders' stored words read in one statement per ``MARK_ROWS``
    (an order named twice is read again for its second row: it sees the first one's word)."""
    ids = [row.get("order_id") if isinstance(row, dict) else None for row in rows]
    wanted = sorted({i for i in ids if isinstance(i, str) and i})
    ahead: dict[str, dict[str, Any] | None] = dict.fromkeys(wanted)
    for start in range(0, len(wanted), MARK_ROWS):
        chunk = wanted[start:start + MARK_ROWS]
        for found in conn.execute(f"SELECT order_id, {_WORD_COLUMNS} FROM hub_orders WHERE order_id IN ("
                                  + ", ".join("?" * len(chunk)) + ")", chunk):
            ahead[str(found.pop("order_id"))] = found
    words: list[str | None] = []
    for order_id, row in zip(ids, rows, strict=True):
        if not isinstance(row, dict):
            words.append(None)
            continue
        if isinstance(order_id, str) and order_id in ahead:
            words.append(wms_word(conn, now, row, ahead.pop(order_id)))
        else:
            words.append(wms_word(conn, now, row))
    return words


_UNREAD: Any = object()


def wms_word(conn: Conn, now: datetime, row: dict[str, Any], current: Any = _UNREAD) -> str | None:
    """Keep the WMS's status of the order beside its floor stage and publish a decision the floor acts on as an
    ``order_status`` event (held, cancelled, released or changed; the words of ``core.order_state``); returns it.
    A row the WMS never held, cancelled, released or changed is not kept; an older word than the one kept is
    ignored. ``current``: the order's stored word read just before (``wms_words``), else read here."""
    order_id = row.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        return None
    status = str(row.get("status") or "open")
    revision, at = word_key(row)
    if current is _UNREAD:
        current = conn.one(f"SELECT {_WORD_COLUMNS} FROM hub_orders WHERE order_id = ?", (order_id,))
    known = current is not None and current["wms_status"] is not None
    if not known and status not in STOPPING and at is None and revision <= 1:
        return None
    before_status = current["wms_status"] if known and current else None
    before = {"revision": current["wms_revision"], "status_at": current["wms_at"]} if known and current else None
    if is_older(row, before):
        return None
    before_at = word_key(before)[1] if before else None
    if status in STOPPING and (before_status != status or before_at != at):
        change: str | None = status
    elif before_status in STOPPING and status not in STOPPING:
        change = "released"
    elif revision > (int(before["revision"] or 1) if before else 1):
        change = "changed"
    else:
        change = None
    stamp = isoformat(now)
    if current is None:
        conn.execute("INSERT INTO hub_orders (order_id, stage, stage_since, priority, updated_at) VALUES (?, ?, ?, ?, ?)",
                     (order_id, "open", stamp, int(row.get("priority") or 0), stamp))
    reason = row.get("status_reason")
    conn.execute("UPDATE hub_orders SET wms_status = ?, wms_reason = ?, wms_at = ?, wms_revision = ?, updated_at = ?"
                 " WHERE order_id = ?", (status, reason if isinstance(reason, str) else None,
                                         row.get("status_at") if at else None, revision, stamp, order_id))
    if change is None:
        return None
    feed(conn, now, "order_status", order_id, {
        "order_id": order_id, "status": status, "change": change, "reason": reason, "at": row.get("status_at"),
        "revision": revision, "lines": row.get("lines"), "carrier": row.get("carrier"),
        "address": row.get("address", row.get("ship_to")), "stage": current["stage"] if current else "open"})
    if status == "cancelled":
        conn.execute("UPDATE hub_escalations SET state = 'void' WHERE order_id = ? AND state = 'pending'", (order_id,))
    elif status == "held":
        pause_escalations(conn, order_id, now)
    elif change == "released":
        resume_escalations(conn, order_id, now)
    return change


def pause_escalations(conn: Conn, order_id: str, now: datetime) -> None:
    """The WMS holds the order: its escalations still to send wait (their time left is kept) until it is released."""
    conn.execute("UPDATE hub_escalations SET held_at = ? WHERE order_id = ? AND state = 'pending' AND held_at IS NULL",
                 (utc(now), order_id))


def resume_escalations(conn: Conn, order_id: str, now: datetime) -> None:
    """The WMS released the order: each paused escalation is due as much later as the hold lasted (on the hub's
    clock), so the time it had left when the hold began is the time it has now."""
    for row in conn.execute("SELECT level, due_utc, held_at FROM hub_escalations WHERE order_id = ?"
                            " AND state = 'pending' AND held_at IS NOT NULL", (order_id,)):
        held_for = max(now - parse_iso(row["held_at"]), timedelta(0))
        conn.execute("UPDATE hub_escalations SET due_utc = ?, held_at = NULL WHERE order_id = ? AND level = ?",
                     (utc(parse_iso(row["due_utc"]) + held_for), order_id, row["level"]))


def _cancelled_order(item: dict[str, Any], cancelled: Callable[[str], dict[str, Any] | None]
                     ) -> dict[str, Any] | None:
    """The WMS-cancelled order a ``pack``, ``ship_load`` or ``manifest`` names, if any (``cancelled``: an order's
    ``order_id``, ``wms_reason`` and ``wms_at`` if the WMS cancelled it, else None)."""
    for order_id in _named_orders(item):
        if isinstance(order_id, str) and (row := cancelled(order_id)) is not None:
            return row
    return None


def _named_orders(item: dict[str, Any]) -> list[Any]:
    """The orders a ``pack``, ``ship_load`` or ``manifest`` names (as sent: not every one need be a string)."""
    action, kind, payload = item["action"], item["object_type"], item["payload"]
    if action not in REFUSED_WHEN_CANCELLED or kind == "tote":
        return []
    if action == "manifest":
        parcels = payload.get("parcels") if isinstance(payload.get("parcels"), list) else []
        return [p.get("order_id") for p in parcels if isinstance(p, dict)]
    return [item["object_id"] if kind == "order" else payload.get("order_id")]


def intercepted_orders(conn: Conn, limit: int = 200) -> list[dict[str, Any]]:
    """Orders the WMS holds or cancelled that have not left the site, the latest decision first (the dashboard)."""
    return conn.execute("SELECT order_id, stage, station, packed_by, wms_status, wms_reason, wms_at, wms_revision"
                        " FROM hub_orders WHERE wms_status IN ('held', 'cancelled') AND stage != 'shipped'"
                        " ORDER BY wms_at DESC LIMIT ?", (limit,))


# ---- claims ----------------------------------------------------------------------------------------
def claim(conn: Conn, order_id: str, station: str, operator: str | None, now: datetime,
          expire_after_s: float) -> dict[str, Any] | None:
    """Claim (or renew) ``order_id`` for ``station``; returns the claim held by someone else, or None."""
    row = conn.one("INSERT INTO hub_claims (order_id, station, operator, claimed_at, renewed_at, expires_utc)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET station = excluded.station,"
                   " operator = excluded.operator, renewed_at = excluded.renewed_at, expires_utc = excluded.expires_utc,"
                   " claimed_at = CASE WHEN hub_claims.station = excluded.station THEN hub_claims.claimed_at"
                   " ELSE excluded.claimed_at END"
                   " WHERE hub_claims.station = excluded.station OR hub_claims.expires_utc < ?"
                   " RETURNING claimed_at, renewed_at",
                   (order_id, station, operator, isoformat(now), isoformat(now),
                    utc(now + timedelta(seconds=expire_after_s)), utc(now)))
    if row is None:
        return get_claim(conn, order_id)
    if row["claimed_at"] == row["renewed_at"]:
        feed(conn, now, "claim", order_id, {"order_id": order_id, "station": station, "operator": operator})
    return None


def lock_claim(conn: Conn, order_id: str) -> dict[str, Any] | None:
    """The claim on ``order_id``, its row locked for the rest of the transaction (after a concurrent release of it
    committed: then None). On SQLite the transaction is the only writer anyway."""
    return conn.one("SELECT order_id, station, operator, claimed_at, renewed_at, expires_utc FROM hub_claims"
                    " WHERE order_id = ?" + conn.dialect.for_update, (order_id,))


def get_claim(conn: Conn, order_id: str) -> dict[str, Any] | None:
    return conn.one("SELECT order_id, station, operator, claimed_at, renewed_at, expires_utc FROM hub_claims"
                    " WHERE order_id = ?", (order_id,))


def release_claim(conn: Conn, order_id: str, now: datetime, why: str,
                  decision: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Delete the claim; ``decision`` (``by``, ``by_name``, ``reason``): a supervisor released it, and the table
    that held it may not take it back by renewing (``released_from``) until someone opens the order afresh."""
    row = conn.one("DELETE FROM hub_claims WHERE order_id = ? RETURNING station, operator", (order_id,))
    if row is not None:
        if decision is not None:
            conn.execute("INSERT INTO hub_releases (order_id, station, by_who, reason, at) VALUES (?, ?, ?, ?, ?)"
                         " ON CONFLICT (order_id) DO UPDATE SET station = excluded.station, by_who = excluded.by_who,"
                         " reason = excluded.reason, at = excluded.at",
                         (order_id, row["station"], decision["by"], decision["reason"], isoformat(now)))
        feed(conn, now, "claim_released", order_id, {"order_id": order_id, "station": row["station"], "why": why,
                                                     **(decision or {})})
    return row


def released_from(conn: Conn, order_id: str, station: str) -> dict[str, Any] | None:
    """The supervisor's release of ``station``'s claim on ``order_id`` that still stands, if any."""
    return conn.one("SELECT order_id, station, by_who AS by, reason, at FROM hub_releases WHERE order_id = ?"
                    " AND station = ?", (order_id, station))


def forget_release(conn: Conn, order_id: str) -> None:
    """The order was opened afresh (a new claim): the release has had its effect."""
    conn.execute("DELETE FROM hub_releases WHERE order_id = ?", (order_id,))


def renew_station_claims(conn: Conn, station: str, now: datetime, expire_after_s: float) -> None:
    conn.execute("UPDATE hub_claims SET renewed_at = ?, expires_utc = ? WHERE station = ?",
                 (isoformat(now), utc(now + timedelta(seconds=expire_after_s)), station))


def expire_claims(conn: Conn, now: datetime) -> list[str]:
    rows = conn.execute("DELETE FROM hub_claims WHERE expires_utc < ? RETURNING order_id, station", (utc(now),))
    for row in rows:
        feed(conn, now, "claim_released", row["order_id"], {"order_id": row["order_id"], "station": row["station"],
                                                            "why": "expired"})
    return [row["order_id"] for row in rows]


def claims(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("SELECT order_id, station, operator, claimed_at, renewed_at, expires_utc FROM hub_claims"
                        " ORDER BY claimed_at")


# ---- stations ------------------------------------------------------------------------------------
def heartbeat(conn: Conn, station: str, beat: dict[str, Any], now: datetime) -> None:
    """Record a heartbeat; ``beat["clock_offset_s"]`` (the station's clock less the hub's, when it sent its time) is
    kept as the station's clock offset, a heartbeat without it leaves the last one."""
    conn.execute("INSERT INTO hub_stations (station, operator, order_id, state, devices, outbox_depth, last_seen_at,"
                 " last_seen_utc, clock_offset_s, outbox_dead, software_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                 " ON CONFLICT (station) DO UPDATE SET"
                 " outbox_dead = COALESCE(excluded.outbox_dead, hub_stations.outbox_dead),"
                 " operator = excluded.operator, order_id = excluded.order_id, state = excluded.state,"
                 " devices = excluded.devices, outbox_depth = excluded.outbox_depth,"
                 " last_seen_at = excluded.last_seen_at, last_seen_utc = excluded.last_seen_utc,"
                 " clock_offset_s = COALESCE(excluded.clock_offset_s, hub_stations.clock_offset_s),"
                 " software_version = COALESCE(excluded.software_version, hub_stations.software_version)",
                 (station, beat.get("operator"), beat.get("order_id"), beat.get("state"), _json(beat.get("devices") or {}),
                  beat.get("outbox_depth"), isoformat(now), utc(now), beat.get("clock_offset_s"), beat.get("outbox_dead"),
                  beat.get("version")))


def on_hub_clock(conn: Conn, station: str, at: str) -> datetime:
    """A station's timestamp on the hub's clock: less the station's clock offset its last heartbeat measured (as
    reported when none was measured), for comparing it with the hub's own times."""
    offset = conn.value("SELECT clock_offset_s FROM hub_stations WHERE station = ?", (station,))
    return parse_iso(at) - timedelta(seconds=float(offset or 0.0))


def stations(conn: Conn) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM hub_stations ORDER BY station")
    for row in rows:
        row["devices"] = json.loads(row["devices"])
    return rows


NO_CHANNEL = "not sent: no notification channel is configured (escalation.notify)"


# ---- escalations ---------------------------------------------------------------------------------
def claim_due_escalation(conn: Conn, now: datetime, retry_s: float) -> dict[str, Any] | None:
    """Take the next due escalation (pending, or failed and due again) for sending, inside the caller's
    transaction; a row whose order is already packed anywhere is voided instead."""
    while True:
        row = conn.one("SELECT order_id, level, due_utc, attempts FROM hub_escalations WHERE state = 'pending'"
                       " AND held_at IS NULL AND due_utc <= ? ORDER BY due_utc, level LIMIT 1"
                       + conn.dialect.skip_locked, (utc(now),))
        if row is None:
            return None
        order = get_order(conn, row["order_id"])
        if order is not None and (order["stage"] in TERMINAL or order.get("wms_status") == "cancelled"):
            conn.execute("UPDATE hub_escalations SET state = 'void' WHERE order_id = ? AND level = ?",
                         (row["order_id"], row["level"]))
            continue
        if order is not None and order.get("wms_status") == "held":
            pause_escalations(conn, row["order_id"], now)
            continue
        conn.execute("UPDATE hub_escalations SET state = 'sending', claimed_at = ?, attempts = attempts + 1,"
                     " due_utc = ? WHERE order_id = ? AND level = ?",
                     (isoformat(now), utc(now + timedelta(seconds=retry_s)), row["order_id"], row["level"]))
        return {**row, "order": order}


def escalation_sent(conn: Conn, order_id: str, level: int, now: datetime, code: str, deadline: str | None = None,
                    channels: int = 1) -> None:
    """Record the escalation done (delivered to ``channels`` notification channels; 0: the site has none, it is shown
    as not sent) and queue its one ``escalate`` confirmation for the WMS (under ``code``)."""
    conn.execute("UPDATE hub_escalations SET state = 'sent', sent_at = ?, channels = ?, last_error = ?"
                 " WHERE order_id = ? AND level = ?",
                 (isoformat(now), channels, None if channels else NO_CHANNEL, order_id, level))
    order = get_order(conn, order_id) or {"milestones": {}}
    own_confirmation(conn, code, now, "escalate", order_id, None, f"escalate:{order_id}:{level}",
                     {"level": level, "deadline": deadline, "target": "shift_supervisor",
                      "picked_at": order["milestones"].get("picked"), "release_priority": level == 1,
                      "id": f"{order_id}/{level}"})
    if level == 1:
        conn.execute("UPDATE hub_orders SET priority_released = 1 WHERE order_id = ?", (order_id,))
        feed(conn, now, "priority_released", order_id, {"order_id": order_id, "level": level})
    feed(conn, now, "escalation", order_id, {"order_id": order_id, "level": level, "id": f"{order_id}/{level}"})


def escalation_failed(conn: Conn, order_id: str, level: int, error: str) -> None:
    """Back to pending; ``due_utc`` was already moved to the retry time when it was claimed."""
    conn.execute("UPDATE hub_escalations SET state = 'pending', last_error = ? WHERE order_id = ? AND level = ?",
                 (error, order_id, level))


def recover_sending(conn: Conn, now: datetime) -> int:
    """Rows left in 'sending' past their retry time (the hub died mid-send) go back to pending: the
    message may be sent a second time, with the same id (order/level)."""
    rows = conn.execute("UPDATE hub_escalations SET state = 'pending' WHERE state = 'sending' AND due_utc < ?"
                        " RETURNING order_id", (utc(now),))
    return len(rows)


def acknowledge(conn: Conn, order_id: str, level: int, who: str, now: datetime, code: str,
                terminal: str | None = None) -> bool:
    """Acknowledge an escalation (audited once, one ``escalation_ack`` for the WMS); False when there was none to
    acknowledge (unknown, or acknowledged already)."""
    rows = conn.execute("UPDATE hub_escalations SET acked_by = ?, acked_at = ? WHERE order_id = ? AND level = ?"
                        " AND acked_at IS NULL RETURNING level", (who, isoformat(now), order_id, level))
    if rows:
        conn.execute("UPDATE hub_escalations SET state = 'void' WHERE order_id = ? AND state = 'pending'", (order_id,))
        audit(conn, now, who, "acknowledge_escalation", f"{order_id}/{level}", None,
              {"acked": True, **({"at": terminal} if terminal else {})})
        own_confirmation(conn, code, now, "escalation_ack", order_id, who, f"escalation_ack:{order_id}:{level}",
                         {"level": level, "id": f"{order_id}/{level}"})
        feed(conn, now, "escalation_acked", order_id, {"order_id": order_id, "level": level, "by": who})
    return bool(rows)


def open_escalations(conn: Conn) -> list[dict[str, Any]]:
    """Escalations sent and not acknowledged, the oldest first (what every supervisor page of the site shows)."""
    return conn.execute("SELECT e.order_id, e.level, e.sent_at, e.channels, o.station, o.milestones"
                        " FROM hub_escalations e"
                        " LEFT JOIN hub_orders o ON o.order_id = e.order_id WHERE e.state = 'sent'"
                        " AND e.acked_at IS NULL ORDER BY e.sent_at, e.order_id, e.level")


def own_confirmation(conn: Conn, code: str, now: datetime, action: str, order_id: str, operator: str | None,
                     key: str, payload: dict[str, Any], object_type: str = "order") -> bool:
    """Queue a confirmation the hub itself makes for the WMS, once per ``key`` (a repeat adds nothing); its object is
    an order unless ``object_type`` says otherwise (``weight_learned``: a SKU)."""
    if conn.one("SELECT 1 AS x FROM hub_confirmations WHERE station = ? AND key = ?", (code, key)) is not None:
        return False
    seq = next_counter(conn, "own_seq")
    item = {"id": make_id(code, now.date(), seq), "key": key, "station": code, "seq": seq, "at": isoformat(now),
            "action": action, "object_type": object_type, "object_id": order_id, "operator": operator,
            "device": f"{code}-hub", "location": code, "payload": payload, "image_sha256": None}
    conn.execute("INSERT INTO hub_confirmations (id, station, key, fingerprint, seq, action, object_type, object_id,"
                 " operator, at, at_utc, received_at, received_utc, body, next_attempt_at)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (item["id"], code, key, fingerprint(item), seq, action, object_type, order_id, operator, item["at"],
                  utc(now), isoformat(now), utc(now), _json(item), utc(now)))
    return True


def escalations(conn: Conn, order_id: str | None = None) -> list[dict[str, Any]]:
    if order_id is not None:
        rows = conn.execute("SELECT order_id, level, state, due_utc, sent_at, channels, acked_by, acked_at, last_error,"
                            " held_at FROM hub_escalations WHERE order_id = ? ORDER BY level", (order_id,))
    else:
        rows = conn.execute("SELECT order_id, level, state, due_utc, sent_at, channels, acked_by, acked_at,"
                            " last_error FROM hub_escalations WHERE state IN ('sent', 'sending')"
                            " OR last_error IS NOT NULL ORDER BY sent_at DESC")
    for row in rows:  # done without a channel to send it through: shown as such, never as sent
        if row["state"] == "sent" and row["channels"] == 0:
            row["state"] = "not_sent"
    return rows


# ---- supervisor sessions ---------------------------------------------------------------------------
def create_session(conn: Conn, key: str, employee_id: str, csrf: str, now: datetime, ttl_s: float) -> None:
    """``key``: the SHA-256 of the session id (``auth.session_key``); the id itself is only in the cookie."""
    conn.execute("INSERT INTO hub_sessions (token, employee_id, csrf, created_at, expires_utc) VALUES (?, ?, ?, ?, ?)",
                 (key, employee_id, csrf, isoformat(now), utc(now + timedelta(seconds=ttl_s))))


def get_session(conn: Conn, key: str, now: datetime) -> dict[str, Any] | None:
    return conn.one("SELECT token, employee_id, csrf FROM hub_sessions WHERE token = ? AND expires_utc > ?",
                    (key, utc(now)))


def delete_session(conn: Conn, key: str) -> None:
    conn.execute("DELETE FROM hub_sessions WHERE token = ?", (key,))


# ---- sign-in attempts --------------------------------------------------------------------------------
def sign_in_attempt(conn: Conn, target: str, now: datetime, attempts: int, window_s: float) -> float:
    """Count one sign-in attempt for ``target`` (an employee, or a badge nobody has) before its PIN is checked, in
    the database every hub shares; returns the seconds ``target`` must wait (0: go on). The ``attempts``-th attempt
    within ``window_s`` of the first is still checked; one more locks ``target`` for ``window_s``."""
    locked = conn.value("SELECT locked_until_utc FROM hub_signin_failures WHERE target = ?"
                        + conn.dialect.for_update, (target,))
    if locked and str(locked) > utc(now):
        return max(1.0, (parse_iso(str(locked)) - now).total_seconds())
    window_start = utc(now - timedelta(seconds=window_s))
    count = int(conn.value(
        "INSERT INTO hub_signin_failures (target, failures, first_utc) VALUES (?, 1, ?) ON CONFLICT (target) DO UPDATE"
        " SET failures = CASE WHEN hub_signin_failures.first_utc > ? THEN hub_signin_failures.failures + 1 ELSE 1 END,"
        " first_utc = CASE WHEN hub_signin_failures.first_utc > ? THEN hub_signin_failures.first_utc"
        " ELSE excluded.first_utc END, locked_until_utc = NULL RETURNING failures",
        (target, utc(now), window_start, window_start)))
    if count > attempts:
        conn.execute("UPDATE hub_signin_failures SET locked_until_utc = ? WHERE target = ?",
                     (utc(now + timedelta(seconds=window_s)), target))
        return window_s
    return 0.0


def sign_in_passed(conn: Conn, target: str) -> None:
    conn.execute("DELETE FROM hub_signin_failures WHERE target = ?", (target,))
