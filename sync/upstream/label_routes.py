"""The label desk's routes (``labels``): a waybill and label per parcel (``POST /v1/labels``) and waybills reserved
ahead for offline work (``POST /v1/waybills/reserve``).

Invariant: each answer is computed and stored in one transaction; a refusal is the desk's status and message
(``LabelRequestError``: 409 a carton already labelled, 422 a key reused for another parcel, …).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response, jsonify

from packgate.sync.common.db import write_tx
from packgate.sync.upstream import labels
from packgate.sync.upstream.web import db, error, json_body, settings

bp = Blueprint("label_routes", __name__)


def _desk(action: Callable[..., Any]) -> Response:
    body = json_body()
    conn = db()
    try:
        with write_tx(conn):
            return jsonify(action(conn, body, settings().clock.now()))
    except labels.LabelRequestError as exc:
        return error(exc.status, str(exc))


@bp.post("/v1/labels")
def post_label() -> Response:
    return _desk(labels.request_label)


@bp.post("/v1/waybills/reserve")
def reserve_waybills() -> Response:
    return _desk(labels.reserve)
