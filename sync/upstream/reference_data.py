"""Reference data for the stations (SKUs, lots, orders, employees, packaging …): every change after a cursor,
one page at a time; and the orders alone (``/v1/orders/changes``), the fast pull that brings a hold, a
cancellation or a change to the floor within a second without reading the rest.

Invariant: rows and the cursor answered come from one snapshot, so a page never misses a change committed while it
was read; ``since`` is a cursor from a previous answer (>= 0; both calls share the cursor), ``limit`` at most
``MAX_REF_PAGE``.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

from flask import Blueprint, Response, jsonify, request

from packgate.sync.upstream import store
from packgate.sync.upstream.web import db, error

bp = Blueprint("reference_data", __name__)
MAX_REF_PAGE = 5000


@bp.get("/v1/reference")
def reference() -> Response:
    return _page(store.reference_since)


@bp.get("/v1/orders/changes")
def order_changes() -> Response:
    return _page(store.order_changes)


def _page(read: Callable[[sqlite3.Connection, int, int], dict]) -> Response:
    since_text = request.args.get("since") or "0"
    try:
        since = int(since_text)
        limit = min(int(request.args.get("limit", MAX_REF_PAGE)), MAX_REF_PAGE)
    except ValueError:
        return error(400, "since must be a cursor from a previous answer; limit an integer")
    if since < 0 or limit < 1:
        return error(400, "since must be >= 0 and limit >= 1")
    conn = db()
    conn.execute("BEGIN")  # one snapshot for rows and cursor
    try:
        data = read(conn, since, limit)
    finally:
        conn.execute("COMMIT")
    return jsonify(data)
