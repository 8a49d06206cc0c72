"""The WMS's side of the site policies (reference server; admin token): flag a customer (``review.customer_flags``),
set a SKU's category and safety levels (stock thresholds), suspend or cap a carrier (carrier rules). Each call is one
transaction of ordinary reference upserts, so the floor learns it through its usual reference pull (the hub
relays it) — nothing is pushed.

Invariant: a bad body is a 400 naming the field, an unknown SKU or customer a 404; nothing is half-applied.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify

from packgate.sync.common.db import write_tx
from packgate.sync.upstream import store
from packgate.sync.upstream.web import db, error, json_body, settings

bp = Blueprint("policies", __name__)
TEXT_MAX = 64


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _object() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise Refused(400, "expected a JSON object")
    return body


def _names(body: dict, field: str) -> list[str]:
    value = body.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v.strip()) <= TEXT_MAX for v in value):
        raise Refused(400, f"{field} must be a list of short texts")
    return [v.strip() for v in value]


def _count(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000_000:
        raise Refused(400, f"{field} must be a whole number 0 or more, or null")
    return value


def _text(value: Any, field: str, limit: int = TEXT_MAX) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Refused(400, f"{field} must be a non-empty text of at most {limit} characters, or null")
    return value.strip()


def _answer(action: Any) -> Response:
    conn = db()
    try:
        with write_tx(conn):
            return jsonify(action(conn))
    except Refused as exc:
        return error(exc.status, str(exc))


@bp.post("/v1/admin/customers/<customer_id>/flags")
def customer_flags(customer_id: str) -> Response:
    """Flag a customer (``new_customer``, ``first_order``, ``blacklist``, …): every order of theirs carries the flags
    (``customer.flags``)."""
    def apply(conn: Any) -> dict:
        flags = _names(_object(), "flags")
        orders = [o for o in (store.get_reference(conn, "orders", key) for (key,) in conn.execute(
            "SELECT key FROM up_ref WHERE kind = 'orders' ORDER BY key")) if o is not None
            and isinstance(o.get("customer"), dict) and o["customer"].get("id") == customer_id]
        if not orders:
            raise Refused(404, f"no order of customer {customer_id!r}")
        cursor = store.upsert_reference(conn, "orders", [{**o, "customer": {**o["customer"], "flags": flags}}
                                                         for o in orders], settings().clock.now())
        return {"customer": customer_id, "flags": flags, "orders": [o["order_id"] for o in orders],
                "cursor": str(cursor)}
    return _answer(apply)


@bp.post("/v1/admin/skus/<sku>/policy")
def sku_policy(sku: str) -> Response:
    """A SKU's ``category`` (review rules), ``safety_stock`` and its lots' ``safety_qty`` (``lots``: lot -> qty)."""
    def apply(conn: Any) -> dict:
        body = _object()
        row = store.get_reference(conn, "skus", sku)
        if row is None:
            raise Refused(404, f"unknown SKU {sku!r}")
        now = settings().clock.now()
        changed = dict(row)
        if "category" in body:
            changed["category"] = _text(body["category"], "category")
        if "safety_stock" in body:
            changed["safety_stock"] = _count(body["safety_stock"], "safety_stock")
        lots = body.get("lots") or {}
        if not isinstance(lots, dict):
            raise Refused(400, "lots must be an object: lot -> safety_qty")
        lot_rows = []
        for lot, qty in lots.items():
            found = store.get_reference(conn, "lots", f"{sku}\x1f{lot}")
            if found is None:
                raise Refused(404, f"unknown lot {lot!r} of {sku!r}")
            lot_rows.append({**found, "safety_qty": _count(qty, f"lots.{lot}")})
        cursor = store.upsert_reference(conn, "skus", [changed], now)
        if lot_rows:
            cursor = store.upsert_reference(conn, "lots", lot_rows, now)
        return {"sku": changed, "lots": lot_rows, "cursor": str(cursor)}
    return _answer(apply)


@bp.post("/v1/admin/carriers/<carrier>")
def carrier_rule(carrier: str) -> Response:
    """Suspend a carrier for regions (``"*"``: everywhere), cap it per day, name its backup; ``{}`` lifts it all."""
    def apply(conn: Any) -> dict:
        body = _object()
        name = _text(carrier, "carrier")
        regions = _names(body, "suspended_regions") if "suspended_regions" in body else []
        rule = {"carrier": name, "suspended_regions": [r.upper() for r in regions],
                "daily_cap": _count(body.get("daily_cap"), "daily_cap"), "backup": _text(body.get("backup"), "backup"),
                "reason": _text(body.get("reason"), "reason", 200) or ""}
        if rule["backup"] == name:
            raise Refused(400, "backup must be another carrier")
        cursor = store.upsert_reference(conn, "carriers", [rule], settings().clock.now())
        return {"carrier": rule, "cursor": str(cursor)}
    return _answer(apply)


@bp.get("/v1/admin/carriers")
def carriers() -> Response:
    rows = db().execute("SELECT data FROM up_ref WHERE kind = 'carriers' ORDER BY key").fetchall()
    return jsonify({"carriers": [json.loads(r[0]) for r in rows]})
