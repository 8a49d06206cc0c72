"""The action confirmation API every terminal speaks (kiosk, PDA, other vendors' handhelds): report an action and
get its verdict, read the station's state, follow its live events, fetch a page's words and its CSRF token.

Invariants: an action needs a client-chosen ``key`` (a retry answers the first verdict); a browser PDA acts as the
employee signed in on it, never as one it names (only an API-token client may name the operator); the event streams
are bounded (``EventBus.max_streams``): one more is a 503 in JSON.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from packgate.station.core import texts
from packgate.station.web.shared import employee, error, is_api, json_body, session_or_open, station, verdict

bp = Blueprint("actions", __name__)


@bp.get("/api/v1/texts/<lang>")
def page_texts(lang: str) -> Response:
    if lang not in texts.LANGUAGES:
        return error(404, "not_found", path=request.path)
    return jsonify(texts.page_texts(lang))


@bp.get("/api/v1/csrf")
def csrf() -> Response:
    return jsonify({"csrf_token": session_or_open().csrf})


@bp.get("/api/v1/state")
def state() -> Response:
    return jsonify(station().state())


@bp.post("/api/v1/actions")
def actions() -> Response:
    body = json_body()
    if not body.get("key"):
        return error(400, "key_required")
    signed_in = employee()
    if body.get("terminal") == "pda" and not is_api():
        # a browser PDA acts as the employee signed in on it (badge code + PIN), never as one it names
        body["operator"] = signed_in
    elif signed_in and not body.get("operator"):
        body["operator"] = signed_in
    return verdict(station().handle(body))


@bp.get("/api/v1/events")
def events() -> Response:
    bus = station().bus
    if bus.streams >= bus.max_streams:
        return error(503, "too_many_streams", limit=bus.max_streams)
    return Response(bus.stream(lambda: [("state", station().state())]), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
