"""The picker's PDA page and its API: sign-in with badge code and PIN (the supervisor page signs in here too),
sign-out, who is signed in, the orders to pick and an order's pick list.

Invariants: signing in issues a new session and CSRF token (no fixation) and signing out revokes the old cookie;
a non-supervisor signing in on the supervisor page leaves nobody signed in there; badge and PIN are strings of at
most 64 characters (else a 400 or a 413 verdict naming the field).
"""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from packgate.station.core.verdicts import answer, bad_field
from packgate.station.web.shared import (
    current_session,
    employee,
    json_body,
    not_supervisor,
    page,
    page_query,
    require_pda,
    session_or_open,
    sessions,
    station,
    verdict,
)

bp = Blueprint("pda", __name__)
MAX_FIELD = 64


@bp.get("/pda")
def pda() -> str:
    return page("pda.html")


@bp.post("/api/v1/pda/login")
def pda_login() -> Response:
    body = json_body()
    badge, pin = body.get("badge"), body.get("pin")
    for name, value in (("badge", badge), ("pin", pin)):
        if not isinstance(value, str):
            return verdict(bad_field(name, "string"), 400)
        if len(value) > MAX_FIELD:
            return verdict(answer("too_large", field=name, limit=MAX_FIELD), 413)
    device = body.get("device")
    result = station().pda_login(str(badge), str(pin), device if isinstance(device, str) else None)
    if result["status"] != "ok":
        return jsonify(result)
    employee_id = result["employee"]["employee_id"]
    if body.get("page") == "supervisor" and not station().is_supervisor(employee_id):
        signed = current_session()
        if signed is not None:  # refused on the supervisor page: nobody stays signed in there
            signed.employee = signed.signed_in_at = None
        return not_supervisor()
    s = sessions().sign_in(session_or_open(), employee_id)
    g.web_session, g.set_cookie = s, s.id
    return jsonify({**result, "csrf_token": s.csrf})


@bp.post("/api/v1/pda/logout")
def pda_logout() -> Response:
    old = current_session()
    if old is not None:
        sessions().revoke(old.id)  # the old cookie opens nothing any more
    fresh = g.web_session = sessions().open(kiosk=bool(old and old.kiosk))
    g.set_cookie = fresh.id
    return jsonify({**answer("pda_signed_out"), "csrf_token": fresh.csrf})


@bp.get("/api/v1/pda/me")
def pda_me() -> Response:
    emp = employee()
    return jsonify({"employee": station().employee_view(emp, viewer=emp) if emp else None})


@bp.get("/api/v1/pda/orders")
def pda_orders() -> Response:
    require_pda()
    listed = station().list_page("orders_to_pick", page_query())
    return jsonify({"orders": listed["items"], "next_cursor": listed["next_cursor"], "limit": listed["limit"],
                    "priority_orders": station().priority_orders()})


@bp.get("/api/v1/pda/picks/<order_id>")
def pda_pick(order_id: str) -> Response:
    emp = require_pda(employee())
    if len(order_id) > MAX_FIELD:
        return verdict(answer("too_large", field="order_id", limit=MAX_FIELD), 413)
    return jsonify(station().pick_view(order_id, emp))
