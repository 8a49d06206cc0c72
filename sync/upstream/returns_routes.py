"""The WMS's returns calls (the admin token when tokens are set): announce an RMA, list and read RMAs with the
confirmations the tables sent, and the decisions (refund or review) the closings made (``returns``).

Invariant: an announcement is validated and stored in one transaction (a bad one is a 4xx naming the problem).
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from packgate.sync.common.db import write_tx
from packgate.sync.upstream import returns, store
from packgate.sync.upstream.web import db, error, json_body, settings

bp = Blueprint("returns", __name__)


@bp.post("/v1/admin/rmas")
def announce_rma() -> Response:
    conn = db()
    try:
        with write_tx(conn):
            record = returns.announce(conn, json_body(), settings().clock.now())
    except returns.RmaRefused as exc:
        return error(exc.status, str(exc))
    return jsonify({"rma": record})


@bp.get("/v1/admin/rmas")
def list_rmas() -> Response:
    status = request.args.get("status")
    if status is not None and status not in returns.STATUSES:
        return error(400, f"status must be one of {', '.join(returns.STATUSES)}")
    return jsonify({"rmas": returns.listing(db(), status)})


@bp.get("/v1/admin/rmas/<rma_id>")
def read_rma(rma_id: str) -> Response:
    conn = db()
    rma = store.get_reference(conn, "rmas", rma_id)
    if rma is None:
        return error(404, f"unknown RMA {rma_id}")
    confirmations = [json.loads(r[0]) for r in conn.execute(
        "SELECT body FROM up_confirmations WHERE object_type = 'rma' AND object_id = ? ORDER BY n", (rma_id,))]
    return jsonify({"rma": rma, "confirmations": confirmations})


@bp.get("/v1/admin/returns/outcomes")
def return_outcomes() -> Response:
    return jsonify({"outcomes": returns.outcomes(db())})
