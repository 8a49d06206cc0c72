"""What a monitor or an integrator reads without a token: ``/healthz`` (the server's time and its SQLite settings)
and ``/openapi.json`` (the contract)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from packgate.device.clock import isoformat
from packgate.sync.upstream.openapi import openapi_document
from packgate.sync.upstream.web import db, settings

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    conn = db()
    sqlite = {"synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
              "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
              "busy_timeout_ms": conn.execute("PRAGMA busy_timeout").fetchone()[0]}
    return jsonify({"ok": True, "time": isoformat(settings().clock.now()), "sqlite": sqlite})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
