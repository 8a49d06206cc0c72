"""What site IT and monitoring read: ``/healthz`` (devices, outbox, escalations; 503 when degraded),
``/metrics`` (Prometheus text) and ``/openapi.json`` (this API's description).

Invariant: /healthz answers without a session (the guard lets it through); /metrics only with
``web.metrics_public`` or a session or token; the answers are computed from the station's counters on each call.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from packgate.station.web.openapi import OPENAPI
from packgate.station.web.shared import station

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    health = station().health()
    return jsonify(health), (200 if health.get("ok") else 503)


@bp.get("/metrics")
def metrics() -> Response:
    return Response(station().metrics(), mimetype="text/plain; version=0.0.4")


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI)
