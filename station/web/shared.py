"""What the station's blueprints share: the station and the sessions of the app serving the request, who is
signed in, the page renderer and the JSON answers.

Invariants: the ``Station`` and the ``Sessions`` live in ``current_app.extensions`` (put there by ``create_app``),
never in a module global, so several apps (tests, the two demo tables) never share them. ``employee()`` looks the
request's cookie up (it may open nothing); ``signed_in()`` only reads the session the guard found, so an API-token
request is nobody. Every error is a JSON verdict (``error``); ``abort`` carries one out of a helper.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NoReturn, cast

from flask import Response, abort, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from packgate.station.core import texts
from packgate.station.core.verdicts import answer
from packgate.station.errors import PageParameterError
from packgate.station.views import PageQuery
from packgate.station.web.guard import COOKIE, Sessions, WebSession

if TYPE_CHECKING:
    from packgate.station.service import Station

STATION = "packgate.station"
SESSIONS = "packgate.sessions"
#: the session cookie's name: one per table in the demo, whose two kiosks share 127.0.0.1 (browsers ignore the port)
COOKIE_NAME = "packgate.cookie"
#: a callable giving the kiosk's "demo devices" panel; only the demo's blueprint sets it
DEMO_PANEL = "packgate.demo_panel"
MAX_BODY_BYTES = 64 * 1024


def station() -> Station:
    return cast("Station", current_app.extensions[STATION])


def sessions() -> Sessions:
    return cast(Sessions, current_app.extensions[SESSIONS])


def cookie_name() -> str:
    return cast(str, current_app.extensions.get(COOKIE_NAME, COOKIE))


def demo_panel() -> Callable[[], dict] | None:
    return cast("Callable[[], dict] | None", current_app.extensions.get(DEMO_PANEL))


# ---- who is asking ----------------------------------------------------------------------------------
def current_session() -> WebSession | None:
    """The server-side session of this request's cookie, looked up once per request."""
    if "web_session" not in g:
        g.web_session = sessions().get(request.cookies.get(cookie_name()))
    return cast("WebSession | None", g.web_session)


def session_or_open() -> WebSession:
    """This request's session, or a new one (the kiosk's when the request comes from the station PC itself)."""
    s = current_session()
    if s is None:
        s = g.web_session = sessions().open(kiosk=request.remote_addr in ("127.0.0.1", "::1"))
        g.set_cookie = s.id
    return s


def employee() -> str | None:
    """The employee signed in on the session of this request's cookie, if any."""
    s = current_session()
    return s.employee if s else None


def signed_in() -> str | None:
    """The employee signed in on this request's server-side session (set by the guard), if any."""
    web_session = g.get("web_session")
    return web_session.employee if web_session is not None else None


def is_api() -> bool:
    """The request carries a valid API token (``web.api_tokens``), not a browser session."""
    return bool(g.get("terminal") == "api")


def require_pda(emp: str | None = None) -> str:
    emp = emp or signed_in()
    if not emp:
        abort(error(401, "not_signed_in", problem="Sign in with your badge code and PIN first.",
                    problem_zh="请先用工卡号和密码登录。"))
    return emp


def not_supervisor() -> Response:
    return error(403, "not_supervisor", problem="Only a supervisor can see this page; sign in as a supervisor.",
                 problem_zh="只有主管可以查看此页，请以主管身份登录。")


# ---- pages ---------------------------------------------------------------------------------------------
def page(template: str, **extra: Any) -> str:
    """A page with this session's CSRF token, the station's name and language and every word in both languages."""
    info = station().info()
    return render_template(template, csrf_token=session_or_open().csrf, station_name=info["name"],
                           language=info.get("language", "en"),
                           texts={lang: texts.page_texts(lang) for lang in texts.LANGUAGES}, **extra)


# ---- requests and answers ------------------------------------------------------------------------------
def json_body() -> dict:
    """The request's JSON object; anything else is a 400 ``bad_json`` (a body over the limit stays a 413)."""
    try:
        body = request.get_json(force=True, silent=False)
    except HTTPException as exc:
        if exc.code == 413:
            raise
        _bad_json("The request body is not valid JSON.", "请求内容不是有效的JSON。")
    except Exception:  # noqa: BLE001 - werkzeug and json raise several kinds for bad JSON
        _bad_json("The request body is not valid JSON.", "请求内容不是有效的JSON。")
    if not isinstance(body, dict):
        _bad_json("The request body must be a JSON object.", "请求内容必须是JSON对象。")
    return body


def _bad_json(problem: str, problem_zh: str) -> NoReturn:
    abort(error(400, "bad_json", problem=problem, problem_zh=problem_zh))


def page_query() -> PageQuery:
    """limit, cursor, station, stage, age_min from the query string; a bad one is a 400 naming it."""
    try:
        return PageQuery.parse(request.args)
    except PageParameterError as exc:
        abort(error(400, exc.code, **exc.data))


def verdict(result: dict, status: int | None = None) -> Response:
    """A verdict as the answer; a field too large is HTTP 413, else 200 (the verdict says what happened)."""
    response = jsonify(result)
    response.status_code = status or (413 if result.get("code") in ("too_large", "body_too_large") else 200)
    return response


def error(status: int, code: str, **data: Any) -> Response:
    response = jsonify(answer(code, **data))
    response.status_code = status
    return response
