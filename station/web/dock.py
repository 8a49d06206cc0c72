"""The dock hand-over API (``packgate.station.dock``): open a carrier's batch, scan parcels into it, read it,
close it.

Invariant: the operator is the employee signed in on the browser (a PDA at the dock door, 401 otherwise); only an
API-token client names the operator in the body.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from packgate.station.web.shared import error, is_api, json_body, require_pda, station

bp = Blueprint("dock", __name__)


def _operator(body: dict) -> str:
    return str(body.get("operator") or "") if is_api() else require_pda()


@bp.post("/api/v1/dock/batches")
def dock_open() -> Response:
    body = json_body()
    return jsonify(station().dock.open(body, _operator(body)))


@bp.get("/api/v1/dock/batches/<batch_id>")
def dock_batch(batch_id: str) -> Response:
    batch = station().dock.batch(batch_id)
    return jsonify(batch) if batch is not None else error(404, "dock_unknown_batch", batch_id=batch_id)


@bp.post("/api/v1/dock/batches/<batch_id>/scan")
def dock_scan(batch_id: str) -> Response:
    body = json_body()
    device = body.get("device")
    return jsonify(station().dock.scan(batch_id, body.get("code"), _operator(body),
                                       device if isinstance(device, str) else None))


@bp.post("/api/v1/dock/batches/<batch_id>/close")
def dock_close(batch_id: str) -> Response:
    body = json_body()
    device = body.get("device")
    return jsonify(station().dock.close(batch_id, _operator(body), device if isinstance(device, str) else None))
