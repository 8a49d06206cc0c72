"""The reference upstream's label desk: waybills per parcel, idempotent by the parcel's key, and waybills
reserved ahead per order for offline work. Runs inside the caller's ``write_tx`` like ``store``.

A label request (``POST /v1/labels``) names the parcel; the answer carries the waybill and the label fields,
and the rendered job (base64) when a printer language is asked for. The same key always answers the same
waybill (a reprint); the same key with another parcel is 422; another key for a carton that already has a
waybill is 409 naming it: never a second waybill for one carton, unless the order changed since (its ``revision``
went up: a new address or carrier) and the request names that revision: the new label replaces the old one (whose
waybill is void).
"""
from __future__ import annotations

import base64
import sqlite3
from datetime import datetime
from typing import Any

from packgate.device.errors import DeviceError
from packgate.device.printer.label import LabelFields, mask_phone
from packgate.device.printer.spec import fill
from packgate.device.profiles import load_profiles
from packgate.sync.common.jsonbytes import dumps, fingerprint, loads
from packgate.sync.upstream import waybills
from packgate.sync.upstream.store import get_reference

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS up_labels (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
        order_id TEXT NOT NULL, carton INTEGER NOT NULL, waybill TEXT NOT NULL UNIQUE, fields TEXT NOT NULL,
        created_at TEXT NOT NULL, UNIQUE (order_id, carton))""",
    """CREATE TABLE IF NOT EXISTS up_waybills (waybill TEXT PRIMARY KEY, format TEXT NOT NULL,
        order_id TEXT, reserve_key TEXT, used_by TEXT, issued_at TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS up_reservations (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, response TEXT NOT NULL)",
)
MAX_RESERVE = 50
SENDER = "packgate reference WMS"
PARCEL_KEYS = ("order_id", "carton", "cartons", "weight_g", "box", "dimensions_mm", "format")


class LabelRequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute("COMMIT")


def _next_serial(conn: sqlite3.Connection, fmt: str) -> int:
    row = conn.execute("INSERT INTO up_meta (k, v) VALUES (?, '1') ON CONFLICT (k) DO UPDATE"
                       " SET v = CAST(v AS INTEGER) + 1 RETURNING v", (f"waybill_serial_{fmt}",)).fetchone()
    return int(row[0])


def _new_waybill(conn: sqlite3.Connection, fmt: str, order_id: str, now: datetime, reserve_key: str | None) -> str:
    code = waybills.issue(fmt, _next_serial(conn, fmt))
    conn.execute("INSERT INTO up_waybills (waybill, format, order_id, reserve_key, issued_at) VALUES (?, ?, ?, ?, ?)",
                 (code, fmt, order_id, reserve_key, now.isoformat()))
    return code


def _int(body: dict, key: str, low: int, high: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise LabelRequestError(400, f"{key} must be an integer {low}..{high}")
    return value


def _order(conn: sqlite3.Connection, order_id: Any) -> dict:
    if not isinstance(order_id, str) or not order_id:
        raise LabelRequestError(400, "order_id must be a non-empty string")
    order = get_reference(conn, "orders", order_id)
    if order is None:
        raise LabelRequestError(404, f"unknown order {order_id!r}")
    return order


def _key(body: dict) -> str:
    key = body.get("key")
    if not isinstance(key, str) or not 8 <= len(key) <= 128:
        raise LabelRequestError(400, "key (the parcel's idempotency key, 8..128 characters) is required")
    return key


def _format(body: dict) -> str:
    fmt = body.get("format", "s10")
    if fmt not in waybills.FORMATS:
        raise LabelRequestError(400, f"format must be one of {', '.join(waybills.FORMATS)}")
    return str(fmt)


def _render(fields: dict, language: Any, size: Any) -> dict:
    if language is None:
        return {}
    templates = [p.template for p in load_profiles(kind="label").values() if p.template is not None]
    match = [t for t in templates if t.language == language and t.size == (size or "100x150")]
    if not match:
        have = sorted({f"{t.language} {t.size}" for t in templates})
        raise LabelRequestError(400, f"no template for language {language!r} size {size!r}; have {', '.join(have)}")
    try:
        job = fill(match[0], LabelFields.from_dict(fields))
    except DeviceError as exc:
        raise LabelRequestError(422, str(exc)) from exc
    return {"language": language, "size": match[0].size, "job_base64": base64.b64encode(job).decode("ascii")}


def _answer(row: sqlite3.Row | tuple, replay: bool, body: dict) -> dict:
    waybill, fields_text = row[0], row[1]
    fields = loads(fields_text)
    out = {"waybill": waybill, "order_id": fields["order"], "carton": fields["carton"], "fields": fields,
           "replay": replay}
    out.update(_render(fields, body.get("language"), body.get("size")))
    return out


def request_label(conn: sqlite3.Connection, body: Any, now: datetime) -> dict:
    """One parcel's waybill (new, reserved or the one this key already has) and its label."""
    if not isinstance(body, dict):
        raise LabelRequestError(400, "expected a JSON object describing the parcel")
    key = _key(body)
    parcel = {k: body.get(k) for k in PARCEL_KEYS}
    if body.get("revision") is not None:  # only then: the keys of labels asked before revisions keep their digest
        parcel["revision"] = body.get("revision")
    digest = fingerprint(parcel)
    row = conn.execute("SELECT waybill, fields, fingerprint FROM up_labels WHERE key = ?", (key,)).fetchone()
    if row is not None:
        if row[2] != digest:
            raise LabelRequestError(422, f"key {key!r} was used for another parcel")
        return _answer(row, True, body)
    order = _order(conn, body.get("order_id"))
    cartons = _int(body, "cartons", 1, 999)
    carton = _int(body, "carton", 1, cartons)
    weight = _int(body, "weight_g", 1, 1_000_000)
    fmt = _format(body)
    revision: int = order["revision"] if isinstance(order.get("revision"), int) else 1
    taken = conn.execute("SELECT waybill, key, fields FROM up_labels WHERE order_id = ? AND carton = ?",
                         (order["order_id"], carton)).fetchone()
    if taken is not None and _relabel(loads(taken[2]), body.get("revision"), revision):
        conn.execute("DELETE FROM up_labels WHERE key = ?", (taken[1],))  # void: the order's address/carrier changed
        taken = None
    if taken is not None:
        raise LabelRequestError(409, f"carton {carton} of {order['order_id']} already has waybill {taken[0]}"
                                     f" (key {taken[1]}); ask again with that key to reprint it")
    wanted = body.get("waybill")
    if wanted is not None:
        free = conn.execute("SELECT 1 FROM up_waybills WHERE waybill = ? AND order_id = ? AND used_by IS NULL",
                            (wanted, order["order_id"])).fetchone()
        if free is None:
            raise LabelRequestError(422, f"waybill {wanted!r} is not a free reserved waybill of {order['order_id']}")
        code = str(wanted)
    else:
        code = _new_waybill(conn, fmt, order["order_id"], now, None)
    conn.execute("UPDATE up_waybills SET used_by = ? WHERE waybill = ?", (key, code))
    ship_to: dict = order["ship_to"] if isinstance(order.get("ship_to"), dict) else {}
    fields = {"waybill": code, "order": order["order_id"], "carton": carton, "cartons": cartons, "weight_g": weight,
              "box": body.get("box"), "ship_to_name": str(ship_to.get("name", "收件人")),
              "ship_to_phone": mask_phone(str(ship_to.get("phone", ""))), "sender": SENDER,
              "date": now.date().isoformat(), "carrier": order.get("carrier"), "revision": revision}
    text = dumps(fields).decode("utf-8")
    conn.execute("INSERT INTO up_labels (key, fingerprint, order_id, carton, waybill, fields, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)", (key, digest, order["order_id"], carton, code, text, now.isoformat()))
    return _answer((code, text), False, body)


def _relabel(taken: dict, asked: Any, revision: int) -> bool:
    """A carton's label may be replaced: the request names the order's current revision, newer than the label's."""
    had = taken.get("revision", 1) if isinstance(taken.get("revision", 1), int) else 1
    return isinstance(asked, int) and not isinstance(asked, bool) and asked == revision and revision > had


def reserve(conn: sqlite3.Connection, body: Any, now: datetime) -> dict:
    """Pre-issue ``count`` waybills for an order; the same key answers the same waybills."""
    if not isinstance(body, dict):
        raise LabelRequestError(400, 'expected {"order_id", "count", "key"}')
    key = _key(body)
    digest = fingerprint({k: body.get(k) for k in ("order_id", "count", "format")})
    row = conn.execute("SELECT fingerprint, response FROM up_reservations WHERE key = ?", (key,)).fetchone()
    if row is not None:
        if row[0] != digest:
            raise LabelRequestError(422, f"key {key!r} was used for another reservation")
        return dict(loads(row[1]), replay=True)
    order = _order(conn, body.get("order_id"))
    count = _int(body, "count", 1, MAX_RESERVE)
    fmt = _format(body)
    codes = [_new_waybill(conn, fmt, order["order_id"], now, key) for _ in range(count)]
    response = {"order_id": order["order_id"], "format": fmt, "waybills": codes}
    conn.execute("INSERT INTO up_reservations (key, fingerprint, response) VALUES (?, ?, ?)",
                 (key, digest, dumps(response).decode("utf-8")))
    return dict(response, replay=False)
