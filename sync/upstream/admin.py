"""The WMS side's own calls (the admin token when tokens are set): change reference data, hold, release, cancel or
change an order (``decisions``), read the counters and the shipments the confirmations produced.

Invariant: an upsert names one of ``store.KINDS`` (404 otherwise) and is stored in one transaction, all items or
none (a bad item is a 400 naming it); a decision is one transaction and answers the order's new record.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from packgate.sync.common.db import write_tx
from packgate.sync.upstream import decisions, store
from packgate.sync.upstream.web import db, error, json_body, settings

bp = Blueprint("admin", __name__)


@bp.post("/v1/admin/<kind>")
def admin_upsert(kind: str) -> Response:
    if kind not in store.KINDS:
        return error(404, f"unknown kind {kind!r}; one of {', '.join(store.KINDS)}")
    body = json_body()
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list):
        return error(400, 'expected {"items": [...]} or a JSON list')
    conn = db()
    try:
        with write_tx(conn):
            cursor = store.upsert_reference(conn, kind, items, settings().clock.now())
    except ValueError as exc:
        return error(400, str(exc))
    return jsonify({"cursor": str(cursor), "count": len(items)})


@bp.post("/v1/admin/orders/<order_id>/<any(hold, release, cancel, change):decision>")
def admin_decide(order_id: str, decision: str) -> Response:
    body = json_body()
    conn = db()
    try:
        with write_tx(conn):
            order = decisions.decide(conn, order_id, decision, body, settings().clock.now())
    except decisions.DecisionRefused as exc:
        return error(exc.status, str(exc))
    return jsonify({"order": order})


@bp.get("/v1/admin/stats")
def admin_stats() -> Response:
    return jsonify(store.stats(db()))


@bp.get("/v1/admin/shipments")
def admin_shipments() -> Response:
    return jsonify({"shipments": store.shipments(db())})
