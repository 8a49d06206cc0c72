"""The Flask app: kiosk, PDA and supervisor pages, the action confirmation API, live events.

The app holds no state of its own: it asks the ``Station`` (``station.service``) and
streams from its ``EventBus``.
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort, g, jsonify, render_template, request, send_file, session

from packgate.station.core import texts
from packgate.station.core.verdicts import answer
from packgate.station.errors import PageParameterError
from packgate.station.views import LISTS, PageQuery
from packgate.station.web.openapi import OPENAPI

if TYPE_CHECKING:
    from packgate.station.service import Station

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SUPERVISOR_LISTS = tuple(kind for kind in LISTS if kind != "orders_to_pick")
CLIP_TYPES = {".webm": "video/webm", ".mp4": "video/mp4", ".avi": "video/x-msvideo"}


def create_app(station: Station, *, demo: Any = None, api_tokens: tuple[str, ...] = (), secret_key: bytes | None = None) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(SECRET_KEY=secret_key or secrets.token_bytes(32), SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_HTTPONLY=True, JSON_SORT_KEYS=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider
    app.extensions["packgate.station"] = station

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return session["csrf"]

    @app.before_request
    def _protect() -> Response | None:
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and any(hmac.compare_digest(bearer[7:], tok) for tok in api_tokens):
            g.terminal = "api"
            return None
        if request.method in SAFE_METHODS:
            return None
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not sent or "csrf" not in session or not hmac.compare_digest(sent, session["csrf"]):
            return _error(403, "csrf")
        return None

    # ---- pages ---------------------------------------------------------------------------------
    def _page(template: str, **extra: Any) -> str:
        info = station.info()
        return render_template(template, csrf_token=csrf_token(), station_name=info["name"],
                               language=info.get("language", "en"),
                               texts={lang: texts.page_texts(lang) for lang in texts.LANGUAGES}, **extra)

    @app.get("/")
    def kiosk() -> str:
        return _page("kiosk.html", demo=demo.panel() if demo else None)

    @app.get("/pda")
    def pda() -> str:
        return _page("pda.html")

    @app.get("/supervisor")
    def supervisor() -> str:
        return _page("supervisor.html")

    # ---- the action confirmation API -----------------------------------------------------------
    @app.get("/api/v1/texts/<lang>")
    def page_texts(lang: str) -> Response:
        if lang not in texts.LANGUAGES:
            return _error(404, "not_found", path=request.path)
        return jsonify(texts.page_texts(lang))

    @app.get("/api/v1/csrf")
    def csrf() -> Response:
        return jsonify({"csrf_token": csrf_token()})

    @app.get("/api/v1/state")
    def state() -> Response:
        return jsonify(station.state())

    @app.post("/api/v1/actions")
    def actions() -> Response:
        body = _json_body()
        if body.get("terminal") == "pda" and g.get("terminal") != "api":
            # a browser PDA acts as the employee signed in on it (badge code + PIN), never as one it names
            body["operator"] = session.get("pda_employee")
        elif "pda_employee" in session and not body.get("operator"):
            body["operator"] = session["pda_employee"]
        verdict = station.handle(body)
        return jsonify(verdict)

    @app.get("/api/v1/events")
    def events() -> Response:
        first = [("state", station.state())]
        return Response(station.bus.stream(first), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ---- PDA (picker) ---------------------------------------------------------------------------
    @app.post("/api/v1/pda/login")
    def pda_login() -> Response:
        body = _json_body()
        result = station.pda_login(str(body.get("badge", "")), str(body.get("pin", "")))
        if result["status"] != "ok":
            return jsonify(result)
        employee = result["employee"]["employee_id"]
        if body.get("page") == "supervisor" and not station.is_supervisor(employee):
            session.pop("pda_employee", None)  # refused on the supervisor page: nobody stays signed in there
            return _not_supervisor()
        session["pda_employee"] = employee
        return jsonify(result)

    @app.post("/api/v1/pda/logout")
    def pda_logout() -> Response:
        session.pop("pda_employee", None)
        return jsonify(answer("pda_signed_out"))

    @app.get("/api/v1/pda/me")
    def pda_me() -> Response:
        emp = session.get("pda_employee")
        return jsonify({"employee": station.employee_view(emp, viewer=emp) if emp else None})

    @app.get("/api/v1/pda/orders")
    def pda_orders() -> Response:
        _require_pda()
        page = station.list_page("orders_to_pick", _page_query())
        return jsonify({"orders": page["items"], "next_cursor": page["next_cursor"], "limit": page["limit"],
                        "priority_orders": station.priority_orders()})

    @app.get("/api/v1/pda/picks/<order_id>")
    def pda_pick(order_id: str) -> Response:
        emp = _require_pda()
        return jsonify(station.pick_view(order_id, emp))

    # ---- supervisor -------------------------------------------------------------------------------
    def _supervisor() -> str | None:
        viewer = session.get("pda_employee")
        if g.get("terminal") != "api":
            if not viewer:
                abort(_error(401, "not_signed_in", problem="Sign in with a supervisor's badge code and PIN to see this page.",
                             problem_zh="请用主管的工卡号和密码登录后查看此页。"))
            if not station.is_supervisor(viewer):
                abort(_not_supervisor())
        return viewer

    @app.get("/api/v1/supervisor/overview")
    def supervisor_overview() -> Response:
        viewer = _supervisor()
        return jsonify(station.supervisor_overview(viewer=viewer, limit=_page_query().limit))

    @app.get("/api/v1/supervisor/counts")
    def supervisor_counts() -> Response:
        _supervisor()
        return jsonify(station.counts())

    @app.get("/api/v1/supervisor/<kind>")
    def supervisor_list(kind: str) -> Response:
        viewer = _supervisor()
        if kind.replace("-", "_") not in SUPERVISOR_LISTS:
            return _error(404, "not_found", path=request.path)
        return jsonify(station.list_page(kind.replace("-", "_"), _page_query(), viewer=viewer))

    @app.get("/api/v1/supervisor/evidence/<order_id>")
    def supervisor_evidence(order_id: str) -> Response:
        _supervisor()
        rec = station.evidence(order_id)
        return jsonify(rec) if rec is not None else _error(404, "evidence_unknown_order", order_id=order_id)

    @app.get("/api/v1/supervisor/evidence/<order_id>/clips/<sha256>")
    def supervisor_clip(order_id: str, sha256: str) -> Response:
        _supervisor()  # the packing video is for supervisors only; Range requests are answered (seeking)
        path = station.video.clip_file(order_id, sha256)
        if path is None:
            return _error(404, "not_found", path=request.path)
        return send_file(path, mimetype=CLIP_TYPES.get(path.suffix, "application/octet-stream"), conditional=True,
                         max_age=0)

    @app.post("/api/v1/escalations/<int:escalation_id>/ack")
    def ack(escalation_id: int) -> Response:
        body = _json_body()
        # the signed-in supervisor acknowledges; only an API-token client may name the supervisor
        operator = str(body.get("operator") or "") if g.get("terminal") == "api" else _require_pda()
        return jsonify(station.acknowledge_escalation(escalation_id, operator, key=body.get("key")))

    # ---- dock hand-over (station/dock.py): a signed-in PDA user, or an API client naming the operator ----
    def _dock_operator(body: dict) -> str:
        return str(body.get("operator") or "") if g.get("terminal") == "api" else _require_pda()

    @app.post("/api/v1/dock/batches")
    def dock_open() -> Response:
        body = _json_body()
        return jsonify(station.dock.open(body, _dock_operator(body)))

    @app.get("/api/v1/dock/batches/<batch_id>")
    def dock_batch(batch_id: str) -> Response:
        batch = station.dock.batch(batch_id)
        return jsonify(batch) if batch is not None else _error(404, "dock_unknown_batch", batch_id=batch_id)

    @app.post("/api/v1/dock/batches/<batch_id>/scan")
    def dock_scan(batch_id: str) -> Response:
        body = _json_body()
        return jsonify(station.dock.scan(batch_id, body.get("code"), _dock_operator(body)))

    @app.post("/api/v1/dock/batches/<batch_id>/close")
    def dock_close(batch_id: str) -> Response:
        body = _json_body()
        return jsonify(station.dock.close(batch_id, _dock_operator(body)))

    # ---- health ------------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        health = station.health()
        return jsonify(health), (200 if health.get("ok") else 503)

    @app.get("/api/v1/labels/<waybill>/preview.png")
    def label_preview(waybill: str) -> Response:
        png = station.labels.preview(waybill) if station.labels is not None else None
        if png is None:
            return _error(404, "no_label", waybill=waybill)
        return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(station.metrics(), mimetype="text/plain; version=0.0.4")

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(OPENAPI)

    # ---- demo devices: every press goes through an emulator, never around it --------------------------
    if demo is not None:
        @app.post("/api/v1/demo/tap")
        def demo_tap() -> Response:
            return jsonify(demo.tap(str(_json_body().get("uid", ""))))

        @app.post("/api/v1/demo/scan")
        def demo_scan() -> Response:
            return jsonify(demo.scan(str(_json_body().get("code", ""))))

        @app.post("/api/v1/demo/scale")
        def demo_scale() -> Response:
            return jsonify(demo.weigh(str(_json_body().get("grams", "0"))))

    @app.errorhandler(PageParameterError)
    def bad_page(exc: PageParameterError) -> Response:
        return _error(400, exc.code, **exc.data)

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> Response:
        return _error(404, "not_found", path=request.path)

    @app.errorhandler(500)
    def server_error(_exc: Exception) -> Response:
        return _error(500, "internal")

    return app


def _json_body() -> dict:
    try:
        body = request.get_json(force=True, silent=False)
    except Exception:  # noqa: BLE001 - werkzeug raises several kinds for bad JSON
        abort(_error(400, "bad_json", problem="The request body is not valid JSON.", problem_zh="请求内容不是有效的JSON。"))
    if not isinstance(body, dict):
        abort(_error(400, "bad_json", problem="The request body must be a JSON object.",
                     problem_zh="请求内容必须是JSON对象。"))
    return body


def _page_query() -> PageQuery:
    """limit, cursor, station, stage, age_min from the query string; a bad one is a 400 naming it."""
    try:
        return PageQuery.parse(request.args)
    except PageParameterError as exc:
        abort(_error(400, exc.code, **exc.data))


def _require_pda() -> str:
    emp = session.get("pda_employee")
    if not emp:
        abort(_error(401, "not_signed_in", problem="Sign in with your badge code and PIN first.",
                     problem_zh="请先用工卡号和密码登录。"))
    return emp


def _not_supervisor() -> Response:
    return _error(403, "not_supervisor", problem="Only a supervisor can see this page; sign in as a supervisor.",
                  problem_zh="只有主管可以查看此页，请以主管身份登录。")


def _error(status: int, code: str, **data: Any) -> Response:
    response = jsonify(answer(code, **data))
    response.status_code = status
    return response


def load_secret(data_dir: Path) -> bytes:
    """A per-station secret for session cookies, created once and kept in the data folder."""
    path = Path(data_dir) / "secret.key"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.write_bytes(key)
    path.chmod(0o600)
    return key
