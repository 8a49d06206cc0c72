"""The Flask app: kiosk, PDA and supervisor pages, the action confirmation API, live events.

The app holds no state of its own: it asks the ``Station`` (``station.service``) and streams from its
``EventBus``. ``guard`` decides who may call what: only /healthz (and /metrics with ``metrics_public``)
answer without a session or API token; a page or /api/v1/csrf opens a server-side session, which from the
station PC itself (loopback) is the kiosk's and elsewhere must sign in (badge + PIN) before it sees anything.
"""
from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from flask import Flask, Response, abort, g, jsonify, render_template, request, send_file
from werkzeug.exceptions import HTTPException

from packgate.station.core import texts
from packgate.station.core.verdicts import answer, bad_field
from packgate.station.errors import PageParameterError
from packgate.station.views import LISTS, PageQuery
from packgate.station.web.guard import COOKIE, HEADERS, Sessions, WebSession, allowed_hosts, host_of
from packgate.station.web.openapi import OPENAPI
from packgate.sync.errors import StorageError

if TYPE_CHECKING:
    from packgate.station.service import Station

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_BODY_BYTES = 64 * 1024
PUBLIC = {"/healthz"}
OPENS_SESSION = {"/", "/pda", "/supervisor", "/api/v1/csrf"}
ANONYMOUS_OK = {"/api/v1/pda/login", "/api/v1/pda/logout", "/api/v1/pda/me"}  # with a session, before sign-in
_ESCALATION_ID = re.compile(r"[0-9]{1,18}")
SUPERVISOR_LISTS = tuple(kind for kind in LISTS if kind != "orders_to_pick")
CLIP_TYPES = {".webm": "video/webm", ".mp4": "video/mp4", ".avi": "video/x-msvideo"}


def create_app(station: Station, *, demo: Any = None, api_tokens: tuple[str, ...] = (), secret_key: bytes | None = None,
               secure_cookies: bool = False, hosts: Iterable[str] = (), web_host: str = "127.0.0.1",
               metrics_public: bool = False, cookie: str = COOKIE) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(SECRET_KEY=secret_key or secrets.token_bytes(32), JSON_SORT_KEYS=False,
                      MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider
    app.extensions["packgate.station"] = station
    sessions = Sessions(station.clock.monotonic)
    app.extensions["packgate.sessions"] = sessions
    allowed = allowed_hosts(web_host, hosts)
    public = PUBLIC | ({"/metrics"} if metrics_public else set())

    def current() -> WebSession | None:
        if "web_session" not in g:
            g.web_session = sessions.get(request.cookies.get(cookie))
        return g.web_session

    def session_or_open() -> WebSession:
        s = current()
        if s is None:
            s = g.web_session = sessions.open(kiosk=request.remote_addr in ("127.0.0.1", "::1"))
            g.set_cookie = s.id
        return s

    def employee() -> str | None:
        s = current()
        return s.employee if s else None

    @app.before_request
    def _protect() -> Response | None:
        for header in (request.host, request.headers.get("Origin")):
            if header and header != "null" and host_of(header) not in allowed:
                return _error(400 if header == request.host else 403, "bad_host", host=header[:100])
        path = request.path
        if request.method == "OPTIONS":  # same-origin pages need no preflight; say so in JSON, like every error
            return _error(405, "method_not_allowed", method="OPTIONS", path=path[:200])
        if path in public or path.startswith("/static/"):
            return None
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            if any(hmac.compare_digest(bearer[7:].encode(), tok.encode()) for tok in api_tokens):
                g.terminal = "api"
                return None
            return _error(403, "csrf")
        s = session_or_open() if path in OPENS_SESSION else current()
        if s is None:
            return _error(401, "not_signed_in", problem="Open the station's page first, or send an API token.",
                          problem_zh="请先打开工作站页面，或提供API令牌。")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get("X-CSRF-Token") or ""
            if not sent or not hmac.compare_digest(sent.encode(), s.csrf.encode()):
                return _error(403, "csrf")
        if path in OPENS_SESSION or path in ANONYMOUS_OK or path.startswith("/api/v1/texts/") or s.kiosk or s.employee:
            return None
        return _error(401, "not_signed_in", problem="Sign in with your badge code and PIN first.",
                      problem_zh="请先用工卡号和密码登录。")

    @app.after_request
    def _harden(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/api/") or request.path in ("/healthz", "/metrics", "/openapi.json"):
            response.headers["Cache-Control"] = "no-store"
        if secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        sid = g.get("set_cookie")
        if sid is not None:
            response.set_cookie(cookie, sid, httponly=True, samesite="Strict", secure=secure_cookies, path="/")
        return response

    # ---- pages ---------------------------------------------------------------------------------
    def _page(template: str, **extra: Any) -> str:
        info = station.info()
        return render_template(template, csrf_token=session_or_open().csrf, station_name=info["name"],
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
        return jsonify({"csrf_token": session_or_open().csrf})

    @app.get("/api/v1/state")
    def state() -> Response:
        return jsonify(station.state())

    @app.post("/api/v1/actions")
    def actions() -> Response:
        body = _json_body()
        if not body.get("key"):
            return _error(400, "key_required")
        signed_in = employee()
        if body.get("terminal") == "pda" and g.get("terminal") != "api":
            # a browser PDA acts as the employee signed in on it (badge code + PIN), never as one it names
            body["operator"] = signed_in
        elif signed_in and not body.get("operator"):
            body["operator"] = signed_in
        verdict = station.handle(body)
        return _verdict(verdict)

    @app.get("/api/v1/events")
    def events() -> Response:
        if station.bus.streams >= station.bus.max_streams:
            return _error(503, "too_many_streams", limit=station.bus.max_streams)
        first = [("state", station.state())]
        return Response(station.bus.stream(first), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ---- PDA (picker) ---------------------------------------------------------------------------
    @app.post("/api/v1/pda/login")
    def pda_login() -> Response:
        body = _json_body()
        badge, pin = body.get("badge"), body.get("pin")
        for name, value in (("badge", badge), ("pin", pin)):
            if not isinstance(value, str):
                return _verdict(bad_field(name, "string"), 400)
            if len(value) > 64:
                return _verdict(answer("too_large", field=name, limit=64), 413)
        result = station.pda_login(str(badge), str(pin))
        if result["status"] != "ok":
            return jsonify(result)
        employee_id = result["employee"]["employee_id"]
        if body.get("page") == "supervisor" and not station.is_supervisor(employee_id):
            signed = current()
            if signed is not None:  # refused on the supervisor page: nobody stays signed in there
                signed.employee = signed.signed_in_at = None
            return _not_supervisor()
        s = sessions.sign_in(session_or_open(), employee_id)
        g.web_session, g.set_cookie = s, s.id
        result = {**result, "csrf_token": s.csrf}
        return jsonify(result)

    @app.post("/api/v1/pda/logout")
    def pda_logout() -> Response:
        old = current()
        if old is not None:
            sessions.revoke(old.id)  # the old cookie opens nothing any more
        fresh = g.web_session = sessions.open(kiosk=bool(old and old.kiosk))
        g.set_cookie = fresh.id
        return jsonify({**answer("pda_signed_out"), "csrf_token": fresh.csrf})

    @app.get("/api/v1/pda/me")
    def pda_me() -> Response:
        emp = employee()
        return jsonify({"employee": station.employee_view(emp, viewer=emp) if emp else None})

    @app.get("/api/v1/pda/orders")
    def pda_orders() -> Response:
        _require_pda()
        page = station.list_page("orders_to_pick", _page_query())
        return jsonify({"orders": page["items"], "next_cursor": page["next_cursor"], "limit": page["limit"],
                        "priority_orders": station.priority_orders()})

    @app.get("/api/v1/pda/picks/<order_id>")
    def pda_pick(order_id: str) -> Response:
        emp = _require_pda(employee())
        if len(order_id) > 64:
            return _verdict(answer("too_large", field="order_id", limit=64), 413)
        return jsonify(station.pick_view(order_id, emp))

    # ---- supervisor -------------------------------------------------------------------------------
    def _supervisor() -> str | None:
        viewer = _signed_in()
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

    @app.post("/api/v1/escalations/<escalation_id>/ack")
    def ack(escalation_id: str) -> Response:
        if not _ESCALATION_ID.fullmatch(escalation_id):
            return _verdict(bad_field("id", "integer_id"), 400)
        body = _json_body()
        # the signed-in supervisor acknowledges; only an API-token client may name the supervisor
        operator = body.get("operator") if g.get("terminal") == "api" else _require_pda(employee())
        if not isinstance(operator, str) or len(operator) > 64:
            return _verdict(bad_field("operator", "string"), 400)
        key = body.get("key")
        return jsonify(station.acknowledge_escalation(int(escalation_id), operator,
                                                      key=key if isinstance(key, str) else None))

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
        def _text(name: str, default: str) -> str:
            value = _json_body().get(name, default)
            if not isinstance(value, str) or len(value) > 512:
                abort(_verdict(bad_field(name, "string"), 400))
            return value

        @app.post("/api/v1/demo/tap")
        def demo_tap() -> Response:
            return jsonify(demo.tap(_text("uid", "")))

        @app.post("/api/v1/demo/scan")
        def demo_scan() -> Response:
            return jsonify(demo.scan(_text("code", "")))

        @app.post("/api/v1/demo/scale")
        def demo_scale() -> Response:
            return jsonify(demo.weigh(_text("grams", "0")))

    @app.errorhandler(PageParameterError)
    def bad_page(exc: PageParameterError) -> Response:
        return _error(400, exc.code, **exc.data)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 404:
            return _error(404, "not_found", path=request.path[:200])
        if code == 405:
            return _error(405, "method_not_allowed", method=request.method, path=request.path[:200])
        if code == 413:
            return _error(413, "body_too_large", field="body", limit=MAX_BODY_BYTES)
        return _error(code, "bad_request", problem=exc.name, problem_zh=exc.name)

    @app.errorhandler(StorageError)
    def not_saved(exc: StorageError) -> Response:
        response = jsonify(station.storage_fault(exc))
        response.status_code = 503
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error on %s", request.path[:200])
        return _error(500, "internal")

    return app


def _verdict(verdict: dict, status: int | None = None) -> Response:
    """A verdict as the answer; a field too large is HTTP 413, else 200 (the verdict says what happened)."""
    response = jsonify(verdict)
    response.status_code = status or (413 if verdict.get("code") in ("too_large", "body_too_large") else 200)
    return response


def _json_body() -> dict:
    try:
        body = request.get_json(force=True, silent=False)
    except HTTPException as exc:
        if exc.code == 413:
            raise
        abort(_error(400, "bad_json", problem="The request body is not valid JSON.", problem_zh="请求内容不是有效的JSON。"))
    except Exception:  # noqa: BLE001 - werkzeug and json raise several kinds for bad JSON
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


def _signed_in() -> str | None:
    """The employee signed in on this request's server-side session (set by the guard), if any."""
    web_session = g.get("web_session")
    return web_session.employee if web_session is not None else None


def _require_pda(emp: str | None = None) -> str:
    emp = emp or _signed_in()
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
    """A per-station secret, created once and kept in the data folder (mode 0600)."""
    path = Path(data_dir) / "secret.key"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.write_bytes(key)
    path.chmod(0o600)
    return key
