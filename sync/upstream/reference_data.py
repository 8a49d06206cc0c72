"""Reference data for the stations (SKUs, lots, orders, employees, packaging …): every change after a cursor,
one page at a time.

Invariant: rows and the cursor answered come from one snapshot, so a page never misses a change committed while it
was read; ``since`` is a cursor from a previous answer (>= 0), ``limit`` at most ``MAX_REF_PAGE``.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from packgate.sync.upstream import store
from packgate.sync.upstream.web import db, error

bp = Blueprint("reference_data", __name__)
MAX_REF_PAGE = 5000


@bp.get("/v1/reference")
def reference() -> Response:
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
        data = store.reference_since(conn, since, limit)
    finally:
        conn.execute("COMMIT")
    return jsonify(data)
