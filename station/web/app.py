"""The station's Flask app: configuration, the request guard every route passes, the JSON error answers, and one
blueprint per page family (kiosk, actions, PDA, supervisor, dock, labels, operations).

The app holds no state of its own: it asks the ``Station`` (``station.service``) and streams from its
``EventBus``. The guard decides who may call what: only /healthz (and /metrics with ``metrics_public``)
answer without a session or API token; a page or /api/v1/csrf opens a server-side session, which from the
station PC itself (loopback) is the kiosk's and elsewhere must sign in (badge + PIN) before it sees anything.
A production app has no demo routes: only the demo registers its blueprint (``packgate.station.demo.web``).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, cast

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from packgate.station.errors import PageParameterError
from packgate.station.web import actions, dock, kiosk, labels, operations, pda, returns, supervisor
from packgate.station.web.guard import COOKIE, HEADERS, Sessions, allowed_hosts, host_of
from packgate.station.web.shared import COOKIE_NAME, MAX_BODY_BYTES, SESSIONS, STATION, cookie_name, current_session, error, session_or_open, station
from packgate.sync.errors import StorageError

if TYPE_CHECKING:
    from packgate.station.service import Station

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC = {"/healthz"}
OPENS_SESSION = {"/", "/pda", "/supervisor", "/returns", "/api/v1/csrf"}
ANONYMOUS_OK = {"/api/v1/pda/login", "/api/v1/pda/logout", "/api/v1/pda/me"}  # with a session, before sign-in
BLUEPRINTS = (kiosk.bp, pda.bp, supervisor.bp, actions.bp, dock.bp, labels.bp, operations.bp, returns.bp)
_GUARD = "packgate.guard"


@dataclass(frozen=True)
class GuardSettings:
    """The app's guard settings: which hosts it answers to, which paths are public, the API tokens, HTTPS."""

    allowed: frozenset[str]
    public: frozenset[str]
    api_tokens: tuple[str, ...]
    secure_cookies: bool


def create_app(station: Station, *, api_tokens: tuple[str, ...] = (), secret_key: bytes | None = None,
               secure_cookies: bool = False, hosts: Iterable[str] = (), web_host: str = "127.0.0.1",
               metrics_public: bool = False, cookie: str = COOKIE) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(SECRET_KEY=secret_key or secrets.token_bytes(32), JSON_SORT_KEYS=False,
                      MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider
    app.extensions[STATION] = station
    app.extensions[SESSIONS] = Sessions(station.clock.monotonic)
    app.extensions[COOKIE_NAME] = cookie
    public = PUBLIC | ({"/metrics"} if metrics_public else set())
    app.extensions[_GUARD] = GuardSettings(allowed_hosts(web_host, hosts), frozenset(public), tuple(api_tokens), secure_cookies)
    app.before_request(_protect)
    app.after_request(_harden)
    app.register_error_handler(PageParameterError, _bad_page)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StorageError, _not_saved)
    app.register_error_handler(Exception, _server_error)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def _guard() -> GuardSettings:
    return cast(GuardSettings, current_app.extensions[_GUARD])


def _protect() -> Response | None:
    guard = _guard()
    for header in (request.host, request.headers.get("Origin")):
        if header and header != "null" and host_of(header) not in guard.allowed:
            return error(400 if header == request.host else 403, "bad_host", host=header[:100])
    path = request.path
    if request.method == "OPTIONS":  # same-origin pages need no preflight; say so in JSON, like every error
        return error(405, "method_not_allowed", method="OPTIONS", path=path[:200])
    if path in guard.public or path.startswith("/static/"):
        return None
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        if any(hmac.compare_digest(bearer[7:].encode(), tok.encode()) for tok in guard.api_tokens):
            g.terminal = "api"
            return None
        return error(403, "csrf")
    s = session_or_open() if path in OPENS_SESSION else current_session()
    if s is None:
        return error(401, "not_signed_in", problem="Open the station's page first, or send an API token.",
                     problem_zh="请先打开工作站页面，或提供API令牌。")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or ""
        if not sent or not hmac.compare_digest(sent.encode(), s.csrf.encode()):
            return error(403, "csrf")
    if path in OPENS_SESSION or path in ANONYMOUS_OK or path.startswith("/api/v1/texts/") or s.kiosk or s.employee:
        return None
    return error(401, "not_signed_in", problem="Sign in with your badge code and PIN first.",
                 problem_zh="请先用工卡号和密码登录。")


def _harden(response: Response) -> Response:
    secure = _guard().secure_cookies
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/") or request.path in ("/healthz", "/metrics", "/openapi.json"):
        response.headers["Cache-Control"] = "no-store"
    if secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    sid = g.get("set_cookie")
    if sid is not None:
        response.set_cookie(cookie_name(), sid, httponly=True, samesite="Strict", secure=secure, path="/")
    return response


def _bad_page(exc: PageParameterError) -> Response:
    return error(400, exc.code, **exc.data)


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    if code == 404:
        return error(404, "not_found", path=request.path[:200])
    if code == 405:
        return error(405, "method_not_allowed", method=request.method, path=request.path[:200])
    if code == 413:
        return error(413, "body_too_large", field="body", limit=MAX_BODY_BYTES)
    return error(code, "bad_request", problem=exc.name, problem_zh=exc.name)


def _not_saved(exc: StorageError) -> Response:
    response = jsonify(station().storage_fault(exc))
    response.status_code = 503
    return response


def _server_error(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s", request.path[:200])
    return error(500, "internal")


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
