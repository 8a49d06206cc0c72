"""The site hub's HTTP server: ``create_hub_app(hub)`` builds the Flask app from its blueprints — the station API
(``station_api``: the contract stations already speak plus claims, heartbeats and the feed), the supervisors'
dashboard (``dashboard``) and sign-in (``signin``), health and the OpenAPI document (``operations``) —;
``serve(hub)`` runs it with waitress (a thread per request in flight; open long-polls wait on a condition, see
README "Site hub"); ``start_in_thread`` runs it for tests and the bench.

Invariants: every error is JSON (``{"error": ...}`` with its status; a claim held elsewhere names the claim); every
answer carries ``X-Upstream-Time`` from the hub's clock, and ``/v1/`` answers are never cached. The app serves no
static files.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from flask import Flask, Response, jsonify, request
from jinja2 import PackageLoader
from werkzeug.exceptions import HTTPException

from packgate.device.clock import isoformat
from packgate.sync.common.jsonbytes import text_problem
from packgate.sync.common.serving import run_until
from packgate.sync.errors import ClaimConflictError, HubRequestError, StorageError
from packgate.sync.hub import dashboard, operations, signin, station_api
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.web import HUB, hub

log = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024
BLUEPRINTS = (operations.bp, station_api.bp, dashboard.bp, signin.bp)


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
    app.before_request(_plain_text_url)
    app.after_request(_stamp)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


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
    log.error("hub storage failed: %s", exc)
    return jsonify({"error": f"not saved: {exc}"}), 503


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


def _server(hub: Hub, host: str, port: int) -> Any:
    from waitress.server import create_server

    app = create_hub_app(hub)
    return create_server(app, host=host, port=port, threads=hub.config["site.threads"], channel_timeout=60,
                         connection_limit=2000, ident="packgate-site", asyncore_use_poll=True)


def serve(hub: Hub) -> None:
    """Run the hub (relay, ticker, HTTP) until interrupted."""
    server = _server(hub, hub.config["site.host"], hub.config["site.port"])
    hub.start()
    log.info("packgate site hub on http://%s:%s (db %s)", hub.config["site.host"], server.effective_port,
             hub.config.db_path)
    print(f"packgate site hub listening on http://{hub.config['site.host']}:{server.effective_port}", flush=True)
    try:
        server.run()
    finally:
        hub.stop()
        server.close()


def start_in_thread(hub: Hub, host: str = "127.0.0.1", port: int = 0, *,
                    background: bool = True) -> tuple[str, Callable[[], None]]:
    """Run the hub's server in a daemon thread; returns ``(base_url, stop)``. ``background=False``
    leaves the relay and ticker to the caller (tests drive ``hub.tick()`` with a fake clock)."""
    server = _server(hub, host, port)
    if background:
        hub.start()
    else:
        hub.feed.start()  # real time, whatever the clock: changes of other hubs on the same database
    stopped = threading.Event()
    thread = threading.Thread(target=run_until, args=(server, stopped), name="packgate-site", daemon=True)
    thread.start()

    def stop() -> None:
        if background:
            hub.stop()
        else:
            hub.feed.stop()
        stopped.set()
        thread.join(timeout=5)

    return f"http://{host}:{server.effective_port}", stop
