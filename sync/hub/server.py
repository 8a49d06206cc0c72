"""The site hub's HTTP server: ``create_hub_app(hub)`` builds the Flask app from its blueprints — the station API
(``station_api``: the contract stations already speak plus claims, heartbeats and the feed), the supervisors'
dashboard (``dashboard``) and sign-in (``signin``), health and the OpenAPI document (``operations``) —;
``serve(hub)`` runs it on the gated cheroot server the station uses too (``sync.common.webserver``: a thread per
request in progress and per open feed stream or long-poll, never one for a slow client's head or an idle keep-alive
connection, so a site's idle stations cost no thread and no CPU; waitress, before, asked every connection
``readable()`` on every pass of its loop; HTTPS with ``site.tls_cert``); ``start_in_thread`` runs it for tests and
the bench. ``/healthz``, ``/metrics`` (Prometheus text) and ``/openapi.json`` need no token.

Invariants: every error is JSON (``{"error": ...}`` with its status; a claim held elsewhere names the claim); every
answer carries ``X-Upstream-Time`` from the hub's clock, and ``/v1/`` answers are never cached. The app serves no
static files but the dashboard's own script, style and chart library (package data, by name).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import Flask, Response, current_app, jsonify, request
from jinja2 import PackageLoader
from werkzeug.exceptions import HTTPException

from packgate.device.clock import isoformat
from packgate.sync.common.collector import settle
from packgate.sync.common.hosts import allowed_hosts, foreign
from packgate.sync.common.jsonbytes import text_problem
from packgate.sync.common.webserver import Gate, GatedServer, serve_in_thread, wait_for_signal
from packgate.sync.errors import ClaimConflictError, HubRequestError, StorageError
from packgate.sync.hub import alert_routes, dashboard, operations, report_routes, signin, station_api, weights_api
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.web import HUB, hub

log = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024
HOSTS = "packgate.hub.hosts"
OPEN_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json"})
IDLE_S = 60.0  # a station's keep-alive connection between its posts is kept this long
BACKLOG = 1024  # connections waiting to be accepted (a site's stations reconnecting at once after a restart)
BLUEPRINTS = (operations.bp, station_api.bp, dashboard.bp, signin.bp, alert_routes.bp, report_routes.bp, weights_api.bp)


def create_hub_app(site: Hub) -> Flask:
    app = Flask("packgate-site", static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, JSON_SORT_KEYS=False)
    app.jinja_loader = PackageLoader("packgate.sync.hub", "templates")  # the dashboard's and sign-in's pages
    app.extensions[HUB] = site
    app.register_error_handler(HubRequestError, _hub_error)
    app.register_error_handler(ClaimConflictError, _claim_error)
    app.register_error_handler(StorageError, _storage_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.extensions[HOSTS] = allowed_hosts(site.config["site.host"], site.config["site.allowed_hosts"])
    app.before_request(_known_host)
    app.before_request(_plain_text_url)
    app.after_request(_stamp)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def _known_host() -> None:
    """A browser's request (no station token) must name a host the hub answers to, in Host and any Origin (a page
    elsewhere that rebinds its name to the hub, or posts a form to it, is refused)."""
    if request.path in OPEN_PATHS or request.headers.get("Authorization", "").startswith("Bearer "):
        return
    bad = foreign((request.host, request.headers.get("Origin")), current_app.extensions[HOSTS])
    if bad is not None:
        raise HubRequestError(f"{'Host' if bad == request.host else 'Origin'} {bad[:100]!r} is not a name this hub"
                              " answers to (site.allowed_hosts)", 400 if bad == request.host else 403)


def _plain_text_url() -> None:
    """The path, the query and a form carry text both engines can store (no NUL, no lone surrogate): 400 otherwise.
    OPTIONS is a 405 in JSON like every error (nothing here needs a CORS preflight)."""
    if request.method == "OPTIONS":
        raise HubRequestError(f"OPTIONS {request.path[:200]} is not supported", 405)
    for where, values in (("the path", [request.path]), ("the query", [*request.args.keys(), *request.args.values()]),
                          ("the form", [*request.form.keys(), *request.form.values()] if request.method == "POST"
                           and request.mimetype == "application/x-www-form-urlencoded" else [])):
        for value in values:
            problem = text_problem(value)
            if problem:
                raise HubRequestError(f"{where}: {problem}")


def _hub_error(exc: HubRequestError) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), exc.status


def _claim_error(exc: ClaimConflictError) -> tuple[Response, int]:
    return jsonify({"error": str(exc), "claim": exc.claim}), 409


def _storage_error(exc: StorageError) -> tuple[Response, int]:
    # not logged here: the database's OutageLog says when storage starts failing, how often, and when it recovers
    text = str(exc)
    return jsonify({"error": text if text.startswith("not saved") else f"not saved: {text}"}), 503


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    return jsonify({"error": f"{exc.code} {exc.name}: {exc.description}"}), exc.code or 500


def _unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("hub request failed: %s", exc)
    return jsonify({"error": f"internal error ({type(exc).__name__}); see the hub's log"}), 500


def _stamp(resp: Response) -> Response:
    resp.headers["X-Upstream-Time"] = isoformat(hub().clock.now())
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/v1/"):
        resp.headers["Cache-Control"] = "no-store"
    return resp


def hub_gate(hub: Hub) -> Gate:
    """A request's head must arrive within ``site.header_timeout_s``, at most ``site.max_connections_per_client``
    connections per address, a kept-alive connection idle for ``IDLE_S`` is closed."""
    return Gate(header_timeout_s=hub.config["site.header_timeout_s"],
                max_per_client=hub.config["site.max_connections_per_client"], idle_s=IDLE_S)


def make_server(app: Any, host: str, port: int, *, threads: int, gate: Gate, tls_cert: str = "",
                tls_key: str = "") -> GatedServer:
    """The hub's server for ``app`` (the bench serves its minimal endpoint with it too), not yet bound."""
    return GatedServer((host, port), app, numthreads=threads, gate=gate, tls_cert=tls_cert, tls_key=tls_key,
                       server_name="packgate-site", backlog=BACKLOG)


def _server(hub: Hub, host: str, port: int) -> GatedServer:
    """The hub's app on the gated cheroot server (``sync.common.webserver``), HTTPS with ``site.tls_cert``."""
    return make_server(create_hub_app(hub), host, port, threads=hub.config["site.threads"], gate=hub_gate(hub),
                       tls_cert=hub.config["site.tls_cert"], tls_key=hub.config["site.tls_key"])


def _scheme(hub: Hub) -> str:
    return "https" if hub.config["site.tls_cert"] else "http"


def serve(hub: Hub) -> None:
    """Run the hub (relay, ticker, HTTP) until SIGINT or SIGTERM; then stop it cleanly (the relay lease is handed
    back, so another hub takes over at once)."""
    server = _server(hub, hub.config["site.host"], hub.config["site.port"])
    stop_serving = serve_in_thread(server, name="packgate-site")  # bound before the relay may take the lease
    hub.serving_on(server.port)
    hub.start()
    settle()
    url = f"{_scheme(hub)}://{hub.config['site.host']}:{server.port}"
    log.info("packgate site hub on %s (db %s)", url, hub.config.db_path)
    print(f"packgate site hub listening on {url}", flush=True)
    try:
        wait_for_signal()
    finally:
        hub.stop()
        stop_serving()


def start_in_thread(hub: Hub, host: str = "127.0.0.1", port: int = 0, *,
                    background: bool = True) -> tuple[str, Callable[[], None]]:
    """Run the hub's server in a daemon thread; returns ``(base_url, stop)``. ``background=False``
    leaves the relay and ticker to the caller (tests drive ``hub.tick()`` with a fake clock)."""
    server = _server(hub, host, port)
    stop_serving = serve_in_thread(server, name="packgate-site")
    hub.serving_on(server.port)
    if background:
        hub.start()
    else:
        hub.feed.start()  # real time, whatever the clock: changes of other hubs on the same database

    def stop() -> None:
        if background:
            hub.stop()
        else:
            hub.stop_order_pull()  # started by a test that wants the WMS's decisions in real time
            hub.feed.stop()
        stop_serving()

    return f"{_scheme(hub)}://{host}:{server.port}", stop
