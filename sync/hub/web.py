"""What the hub's blueprints share: the ``Hub`` of the app serving the request, who is asking (a station by its
bearer token, a supervisor by the dashboard's session cookie), the request-body and query helpers and the
dashboard's page renderer in English and Chinese (words from the one catalog: ``dashtext``).

Invariants: the ``Hub`` lives in ``current_app.extensions`` (put there by ``create_hub_app``), never in a module
global. A bad request raises ``HubRequestError`` (the app answers it in JSON with its status); a station is known
only by a token from ``[stations]`` and only ever acts as itself (``require_station``).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, cast

from flask import Response, current_app, g, render_template, request

from packgate.sync.common.jsonbytes import loads_request
from packgate.sync.common.pump import Source
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import dashtext, store
from packgate.sync.hub.auth import COOKIE, session_key, station_for_token
from packgate.sync.hub.hub import Hub

HUB = "packgate.hub"
MAX_FIELD = 200



def hub() -> Hub:
    return cast(Hub, current_app.extensions[HUB])


# ---- server-sent events ------------------------------------------------------------------------------
def event_stream(caller: str, pumped: Callable[[Callable[[], None]], tuple[Source, bytes]],
                 threaded: Callable[[], Iterable[bytes]]) -> Response:
    """A stream counted among ``caller``'s long-polls (429 past a share; its place is given back when it ends). On the
    hub's server ``pumped(release)`` gives the stream's source and first bytes: the server's ``StreamPump`` writes
    it, woken at every seal of the feed, and it holds no thread. Under another server ``threaded()`` is the body,
    written from the request's own thread, and it counts against the threads' share too."""
    detach = request.environ.get("packgate.detach")
    release = hub().long_polls.take(caller, holds_thread=detach is None)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if detach is not None:
        source, first = pumped(release)
        hub().feed.wake_on_seal(detach(source))
        return Response(iter([first]), mimetype="text/event-stream", headers=headers)
    resp = Response(threaded(), mimetype="text/event-stream", headers=headers)
    resp.call_on_close(release)  # when the stream ends, however it ends (the server closes the response)
    return resp


# ---- who is asking -----------------------------------------------------------------------------------
def station() -> str:
    """The authenticated station of this request (401 without a known token)."""
    if "station" not in g:
        g.station = station_for_token(request.headers.get("Authorization"), hub().config["stations"])
    return str(g.station)


def current_supervisor() -> dict[str, Any] | None:
    """The dashboard session of this request's cookie (a signed-in supervisor), if any."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with hub().db.read() as conn:
        return store.get_session(conn, session_key(token), hub().clock.now())


def station_or_supervisor() -> str:
    """A station's token, or else a supervisor's dashboard session (401 with neither); returns who: the station's id
    or ``supervisor <employee id>``."""
    if request.headers.get("Authorization"):
        return station()
    session = current_supervisor()
    if session is None:
        raise HubRequestError("missing Authorization: Bearer <station token> (or a supervisor sign-in)", 401)
    return f"supervisor {session['employee_id']}"


def checked_session() -> dict[str, Any]:
    """The signed-in supervisor of a dashboard form, whose CSRF token the form carries (401 / 403 otherwise)."""
    session = current_supervisor()
    if session is None:
        raise HubRequestError("sign in first", 401)
    if request.form.get("csrf", "") != session["csrf"]:
        raise HubRequestError("the form's CSRF token is missing or stale; reload the page", 403)
    return session


# ---- request bodies and queries ------------------------------------------------------------------------
def body() -> dict[str, Any]:
    try:
        data = loads_request(request.get_data())
    except ValueError as exc:  # JSONInputError and UnicodeDecodeError too
        raise HubRequestError(f"body is not acceptable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HubRequestError("body must be a JSON object")
    return data


def text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HubRequestError(f"{name} must be a non-empty string")
    if len(value) > MAX_FIELD:
        raise HubRequestError(f"{name} is longer than {MAX_FIELD} characters")
    return value


def int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise HubRequestError(f"{name} must be a whole number {low}..{high}")
    return max(low, min(int(value), high))


def cursor(value: str, name: str) -> int:
    """A feed cursor given in a header (``Last-Event-ID``): a whole number."""
    if not (value.isascii() and value.isdigit()) or len(value) > 17:
        raise HubRequestError(f"{name} must be a feed cursor (a whole number)")
    return int(value)


# ---- the dashboard's pages -----------------------------------------------------------------------------
def lang() -> str:
    """The page's language: ``?lang=``, else the ``lang`` cookie, else the site's ``site.language``."""
    wanted = request.args.get("lang") or request.cookies.get("lang") or ""
    return wanted if wanted in dashtext.LANGUAGES else hub().config["site.language"]


def page(template: str, status: int = 200, **context: Any) -> Response:
    code = lang()
    resp = Response(render_template(template, t=dashtext.words(code), lang=code, site=hub().config["site.name"], **context),
                    status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    resp.headers["Cache-Control"] = "no-store"
    if request.args.get("lang") in dashtext.LANGUAGES:
        resp.set_cookie("lang", code, samesite="Strict")
    return resp
