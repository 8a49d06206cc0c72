"""The action confirmation contract: stations post confirmations in batches (idempotent by key: a repeat answers
``duplicate`` and has no second effect), read back which ids arrived in a time window (reconciliation) and an
order's confirmations.

Invariants: with station tokens a station posts and reads only its own confirmations (403 otherwise; the relay and
the admin token any station's); a batch holds at most ``MAX_BATCH`` (413); a batch is stored in one transaction.
"""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from packgate.device.clock import parse_iso
from packgate.sync.common.db import write_tx
from packgate.sync.upstream import returns, store
from packgate.sync.upstream.web import db, error, json_body, may_act_for, scoped_station, settings

bp = Blueprint("confirmations", __name__)
MAX_BATCH = 1000


@bp.post("/v1/confirmations")
def post_confirmations() -> Response:
    envelope = json_body()
    if not isinstance(envelope, dict) or not isinstance(envelope.get("station"), str) \
            or not isinstance(envelope.get("confirmations"), list):
        return error(400, 'expected {"station": "...", "confirmations": [...]}')
    items = envelope["confirmations"]
    config = settings()
    if not may_act_for(envelope["station"]):
        return error(403, f"this token belongs to station {g.station}, not {envelope['station']!r}")
    if len(items) > MAX_BATCH:
        return error(413, f"at most {MAX_BATCH} confirmations per request")
    conn = db()
    with write_tx(conn):
        results = store.receive(conn, envelope["station"], items, config.clock.now(), strict_orders=config.strict_orders,
                                effects=(returns.EFFECTS,))
    return jsonify({"results": results})


@bp.get("/v1/confirmations")
def list_confirmations() -> Response:
    station = request.args.get("station", "")
    if not may_act_for(station):
        return error(403, f"this token belongs to station {g.station}: it reads only that station's confirmations")
    try:
        since = parse_iso(request.args["since"])
        until = parse_iso(request.args["until"])
    except KeyError as exc:
        return error(400, f"missing query parameter {exc}")
    except ValueError as exc:
        return error(400, str(exc))
    by = request.args.get("by", "at")
    if by not in ("at", "received"):
        return error(400, "by must be 'at' or 'received'")
    return jsonify({"station": station, "ids": store.reconcile(db(), station, since, until, by)})


@bp.get("/v1/orders/<order_id>/confirmations")
def order_confirmations(order_id: str) -> Response:
    return jsonify({"order_id": order_id, "confirmations": store.order_confirmations(db(), order_id, scoped_station())})
