"""The Returns screen and API (逆向物流, ``packgate.station.returns``): the kiosk switches between Pack and Returns, a
PDA receives at the dock; both post the steps of a return here and read it back with the original order's outbound
evidence; the return's evidence record is read here.

Invariant: the operator is who is present: the employee signed in at the table by badge (the kiosk's loopback
session), the employee signed in on the PDA (badge code and PIN), or, for an API-token client only, the one the body
names. Nobody signed in: 401.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from packgate.station.returns import KIOSK
from packgate.station.web.shared import current_session, error, is_api, json_body, page, signed_in, station

bp = Blueprint("returns", __name__)


def _who(body: dict) -> tuple[str | None, str, str | None]:
    """(operator, terminal, device) of this request."""
    st = station()
    device = body.get("device") if isinstance(body.get("device"), str) and len(body["device"]) <= 64 else None
    if is_api():
        operator = body.get("operator")
        terminal = "pda" if body.get("terminal") == "pda" else KIOSK
        return (operator if isinstance(operator, str) and operator else None), \
            (f"pda:{device or 'api'}" if terminal == "pda" else KIOSK), device
    emp = signed_in()
    if emp:  # a PDA (or a supervisor's browser) signed in with badge code and PIN
        return emp, f"pda:{emp}", device or f"{st.device_id('pda')}:{emp}"
    web = current_session()
    if web is not None and web.kiosk:
        return (st.pack.operator.employee_id if st.pack.operator else None), KIOSK, device
    return None, KIOSK, device


@bp.get("/returns")
def returns_page() -> str:
    return page("returns.html")


@bp.get("/api/v1/returns")
def returns_state() -> Response:
    operator, terminal, _device = _who({"terminal": request.args.get("terminal"), "operator": None})
    return jsonify({**station().returns.view(terminal), "mode": station().returns.mode, "operator": operator})


@bp.post("/api/v1/returns")
def returns_step() -> Response:
    body = json_body()
    operator, terminal, device = _who(body)
    if not operator:
        return error(401, "return_not_signed_in")
    result = station().returns.handle(body, operator, terminal, device)
    station().bus.publish("returns", {"terminal": terminal, "code": result.get("code")})
    return jsonify(result)


@bp.post("/api/v1/returns/mode")
def returns_mode() -> Response:
    body = json_body()
    web = current_session()
    if not is_api() and not (web is not None and web.kiosk):  # a PDA never switches the table's scanner
        return error(403, "return_mode_kiosk_only")
    result = station().returns.set_mode(body.get("mode"))
    if "mode" not in result:
        return error(400, "return_bad_request", problem=result["data"]["problem"],
                     problem_zh=result["data"]["problem_zh"])
    return jsonify(result)


@bp.get("/api/v1/returns/<rma_id>/evidence")
def returns_evidence(rma_id: str) -> Response:
    rec = station().returns.evidence(rma_id)
    if rec is None:
        return error(404, "return_no_record", rma_id=rma_id)
    return jsonify(rec)
