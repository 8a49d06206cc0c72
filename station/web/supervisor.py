"""The supervisor's page and its API: the overview, the counts, one page of each list, an order's evidence
record and packing video, acknowledging an escalation, the suspect-weight review (accept or reset) and resolving
a conflict (a pack or hand-over upstream refused because the WMS had cancelled the order).

Invariants: a browser sees any of it only signed in as a supervisor (401 ``not_signed_in``, 403 ``not_supervisor``);
an API-token client sees it as nobody in particular (personal data masked). Only an API-token client may name the
supervisor who acknowledges; a browser acknowledges as the employee signed in on it. An escalation id is the
station's own (a number) or the site's (``<order>~<level>``, acknowledged through the hub). A weight decision needs the
supervisor present as an override does: signed in on this browser with badge and PIN, or, for an API-token
client, the supervisor's badge code and PIN in the request.
"""
from __future__ import annotations

import re
import time

from flask import Blueprint, Response, abort, jsonify, request, send_file

from packgate.station.core.models import Employee
from packgate.station.core.verdicts import answer, bad_field
from packgate.station.privacy import report_csv
from packgate.station.views import LISTS
from packgate.station.web.shared import employee, error, is_api, json_body, not_supervisor, page, page_query, require_pda, signed_in, station, verdict

bp = Blueprint("supervisor", __name__)
SUPERVISOR_LISTS = tuple(kind for kind in LISTS if kind != "orders_to_pick")
CLIP_TYPES = {".webm": "video/webm", ".mp4": "video/mp4", ".avi": "video/x-msvideo"}
REPORT_WAIT_S = 3.0  # how long a report steps aside while the station is busy
_DAY = re.compile(r"[0-9]{4}-[01][0-9]-[0-3][0-9]")
_ESCALATION_ID = re.compile(r"[0-9]{1,18}")
_SITE_ESCALATION_ID = re.compile(r"(?P<order>[^~/]{1,80})~(?P<level>[12])")


def _supervisor() -> str | None:
    """The signed-in supervisor looking (None for an API-token client); anyone else is answered 401 or 403."""
    viewer = signed_in()
    if not is_api():
        if not viewer:
            abort(error(401, "not_signed_in", problem="Sign in with a supervisor's badge code and PIN to see this page.",
                        problem_zh="请用主管的工卡号和密码登录后查看此页。"))
        if not station().is_supervisor(viewer):
            abort(not_supervisor())
    return viewer


@bp.get("/supervisor")
def supervisor() -> str:
    return page("supervisor.html")


@bp.get("/api/v1/supervisor/overview")
def supervisor_overview() -> Response:
    viewer = _supervisor()
    return jsonify(station().supervisor_overview(viewer=viewer, limit=page_query().limit))


@bp.get("/api/v1/supervisor/counts")
def supervisor_counts() -> Response:
    _supervisor()
    return jsonify(station().counts())


@bp.get("/api/v1/supervisor/<kind>")
def supervisor_list(kind: str) -> Response:
    viewer = _supervisor()
    if kind.replace("-", "_") not in SUPERVISOR_LISTS:
        return error(404, "not_found", path=request.path)
    return jsonify(station().list_page(kind.replace("-", "_"), page_query(), viewer=viewer))


@bp.get("/api/v1/supervisor/evidence/<order_id>")
def supervisor_evidence(order_id: str) -> Response:
    _supervisor()
    rec = station().evidence(order_id)
    return jsonify(rec) if rec is not None else error(404, "evidence_unknown_order", order_id=order_id)


@bp.post("/api/v1/supervisor/evidence/<order_id>/export")
def supervisor_evidence_export(order_id: str) -> Response:
    """The evidence record as a download: a second verification (a supervisor's badge and PIN in the request, checked
    here) even for a signed-in supervisor; granted and refused exports are audited."""
    _supervisor()
    body = json_body()
    st = station()
    result, status = st.privacy.export(order_id[:80], body.get("supervisor_badge"), body.get("supervisor_pin"),
                                       st.device_id("supervisor"))
    response = verdict(result, status) if status != 200 else jsonify(result)
    if status == 200:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", order_id[:80])
        response.headers["Content-Disposition"] = f'attachment; filename="evidence-{name}.json"'
    return response


@bp.post("/api/v1/supervisor/orders/<order_id>/recipient")
def supervisor_recipient(order_id: str) -> Response:
    """The order's recipient unmasked (to call the customer, to correct an address), audited as a read of personal
    data: a signed-in supervisor, or an API-token client with a supervisor's badge and PIN."""
    viewer = _supervisor()
    body = json_body()
    purpose = body.get("purpose") or ""
    if not isinstance(purpose, str) or len(purpose) > 200:
        return verdict(bad_field("purpose", "string"), 400)
    st = station()
    device = st.device_id("supervisor")
    if viewer is None:
        proven = _present(body, "personal_read", device)
        if isinstance(proven, Response):
            return proven
        if not st.is_supervisor(proven.employee_id):
            return not_supervisor()
        viewer = proven.employee_id
    found = st.privacy.recipient(order_id[:80], viewer, device, purpose)
    return jsonify(found) if found is not None else error(404, "not_found", path=request.path)


def _present(body: dict, purpose: str, device: str) -> Employee | Response:
    """The employee an API-token client proves present with ``supervisor_badge`` and ``supervisor_pin`` (checked
    here, as a tap would be), or the 403 to answer."""
    badge, pin = body.get("supervisor_badge"), body.get("supervisor_pin")
    if not isinstance(badge, str) or not isinstance(pin, str) or len(badge) > 64 or len(pin) > 64:
        return verdict(answer("presence_required"), 403)
    proven = station().pins.verify(badge, pin, purpose, device)
    return verdict(proven, 403) if isinstance(proven, dict) else proven


def _not_while_busy() -> None:
    """Reports can wait: above load.shed_pct the request waits (up to ``REPORT_WAIT_S``) for the load to fall, so
    the scan path goes first; then it is answered whatever the load."""
    load = station().parts.load
    if not load.shedding():
        return
    load.shed("reports")
    waited = 0.0
    while waited < REPORT_WAIT_S and load.shedding():
        time.sleep(0.1)
        waited += 0.1


@bp.get("/supervisor/access-report")
def supervisor_access_page() -> str:
    _supervisor()
    _not_while_busy()
    day = _day()
    return page("access.html", day=day, rows=station().privacy.report(day))


@bp.get("/api/v1/supervisor/access-report")
def supervisor_access_report() -> Response:
    """The day's reads of unmasked personal data, evidence exports (and refusals) and purges; ``format=csv``."""
    _supervisor()
    _not_while_busy()
    day = _day()
    rows = station().privacy.report(day)
    if request.args.get("format") == "csv":
        return Response(report_csv(rows), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="personal-data-access-{day}.csv"'})
    return jsonify({"day": day, "rows": rows})


def _day() -> str:
    """``?day=YYYY-MM-DD`` (default: today on the station's clock); another form is a 400 naming it."""
    day = request.args.get("day") or station().parts.clock.now().date().isoformat()
    if not _DAY.fullmatch(day):
        abort(verdict(bad_field("day", "day"), 400))
    return day


@bp.get("/api/v1/supervisor/evidence/<order_id>/clips/<sha256>")
def supervisor_clip(order_id: str, sha256: str) -> Response:
    _supervisor()  # the packing video is for supervisors only; Range requests are answered (seeking)
    path = station().video.clip_file(order_id, sha256)
    if path is None:
        return error(404, "not_found", path=request.path)
    return send_file(path, mimetype=CLIP_TYPES.get(path.suffix, "application/octet-stream"), conditional=True,
                     max_age=0)


@bp.get("/api/v1/supervisor/weights")
def supervisor_weights() -> Response:
    _supervisor()
    return jsonify(station().weights.review())


@bp.post("/api/v1/supervisor/weights/<sku>")
def supervisor_weight_decision(sku: str) -> Response:
    viewer = _supervisor()
    body = json_body()
    action, reason = body.get("action"), body.get("reason") or ""
    if not isinstance(action, str) or len(action) > 16:
        return verdict(bad_field("action", "string"), 400)
    if not isinstance(reason, str) or len(reason) > 200:
        return verdict(bad_field("reason", "string"), 400)
    st = station()
    device = st.device_id("supervisor")
    if is_api():
        proven = _present(body, "weight_decision", device)
        if isinstance(proven, Response):
            return proven
        supervisor = proven
    else:
        supervisor = st.catalog.employee_by_id(viewer) if viewer else None
    return verdict(st.weights.decide(sku[:64], action, supervisor, reason, device))


@bp.post("/api/v1/supervisor/conflicts/<confirmation_id>/resolve")
def resolve_conflict(confirmation_id: str) -> Response:
    viewer = _supervisor()
    body = json_body()
    operator = body.get("operator") if is_api() else viewer  # only an API-token client names the supervisor
    if not isinstance(operator, str) or not operator or len(operator) > 64:
        return verdict(bad_field("operator", "string"), 400)
    return jsonify(station().resolve_conflict(confirmation_id[:64], operator, body.get("note")))


@bp.post("/api/v1/escalations/<escalation_id>/ack")
def ack(escalation_id: str) -> Response:
    site = _SITE_ESCALATION_ID.fullmatch(escalation_id)
    if not _ESCALATION_ID.fullmatch(escalation_id) and site is None:
        return verdict(bad_field("id", "integer_id"), 400)
    body = json_body()
    # the signed-in supervisor acknowledges; only an API-token client may name the supervisor
    operator = body.get("operator") if is_api() else require_pda(employee())
    if not isinstance(operator, str) or len(operator) > 64:
        return verdict(bad_field("operator", "string"), 400)
    if site is not None:
        return jsonify(station().acknowledge_site_escalation(site["order"], int(site["level"]), operator))
    key = body.get("key")
    return jsonify(station().acknowledge_escalation(int(escalation_id), operator,
                                                    key=key if isinstance(key, str) else None))
