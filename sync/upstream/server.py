"""The reference upstream: a Flask app over SQLite implementing the contract in ``openapi.json``.

``create_upstream_app(db_path)`` builds the app from its blueprints — confirmations, reference data, the admin
calls, the label desk and operations (health, the contract) —; ``serve(host, port, db)`` runs it with waitress;
``start_in_thread(host, port, db) -> (base_url, stop)`` runs it in a background thread for tests and the demo. A WMS
integrator implements the same contract; this server is the executable spec.

Invariants: with station tokens every call but /healthz and /openapi.json needs a token (``_authorise``); every
answer carries ``X-Upstream-Time`` from the server's clock (so a station measures its clock skew). The app serves
no static files.
"""
from __future__ import annotations

import hmac
import logging
import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from packgate.device.clock import Clock, isoformat
from packgate.sync.common.db import connect
from packgate.sync.common.pool import Pool
from packgate.sync.common.serving import run_until
from packgate.sync.upstream import admin, confirmations, label_routes, labels, operations, policies, reference_data, returns, returns_routes, store
from packgate.sync.upstream.web import ADMIN, POOL, RELAY, SETTINGS, RequestRefused, Settings, error, give_back, settings

log = logging.getLogger(__name__)
BLUEPRINTS = (operations.bp, confirmations.bp, reference_data.bp, admin.bp, policies.bp, label_routes.bp,
              returns_routes.bp)
OPEN_PATHS = ("/healthz", "/openapi.json")


def create_upstream_app(db_path: str | Path, *, clock: Clock | None = None, strict_orders: bool = True,
                        seed_demo: bool = False, today: date | None = None, station_tokens: dict[str, str] | None = None,
                        admin_token: str | None = None, relay_token: str | None = None) -> Flask:
    """The reference upstream app; ``strict_orders`` rejects confirmations for unknown orders.

    With ``station_tokens`` (station id -> token) every call but /healthz and /openapi.json needs
    ``Authorization: Bearer <token>``: a station's token reads reference data and posts and reads that station's
    confirmations only; ``relay_token`` (a site hub's) posts and reads every station's confirmations and asks for
    labels, but opens no /v1/admin/* call (employees, PIN hashes); ``admin_token`` alone opens /v1/admin/* (and
    reads everything). Without tokens the server is open (a contract test bench on 127.0.0.1 only)."""
    clock = clock or Clock()
    app = Flask("packgate-upstream", static_folder=None)
    app.config.update(PACKGATE_DB=str(db_path), JSON_SORT_KEYS=False)
    _prepare(db_path, seed_demo, today or clock.now().date(), clock)
    app.extensions[SETTINGS] = Settings(clock, strict_orders, station_tokens, admin_token, relay_token)
    pool: Pool[sqlite3.Connection] = Pool(lambda: connect(db_path), lambda c: c.close(), keep=8)
    app.extensions[POOL] = pool  # closed by the server's stop
    app.teardown_appcontext(give_back)
    app.before_request(_authorise)
    app.after_request(_stamp)
    app.register_error_handler(RequestRefused, _refused)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def _prepare(db_path: str | Path, seed_demo: bool, today: date, clock: Clock) -> None:
    """The schema, and the demo's reference data when asked."""
    conn = connect(db_path)
    try:
        store.ensure_schema(conn)
        labels.ensure_schema(conn)
        returns.ensure_schema(conn)
        if seed_demo:
            from packgate.sync.upstream.demo_data import seed
            seed(conn, today=today, now=clock.now())
    finally:
        conn.close()


def _authorise() -> Response | None:
    if request.method == "OPTIONS":
        return error(405, f"OPTIONS {request.path[:200]} is not supported")
    config = settings()
    if config.station_tokens is None or request.path in OPEN_PATHS:
        return None
    header = request.headers.get("Authorization", "")
    given = header[7:].strip().encode() if header.startswith("Bearer ") else b""
    g.station = None
    if config.admin_token and given and hmac.compare_digest(given, config.admin_token.encode()):
        g.station = ADMIN
        return None
    if request.path.startswith("/v1/admin/"):
        return error(403 if given else 401, "the admin token is required")
    if config.relay_token and given and hmac.compare_digest(given, config.relay_token.encode()):
        g.station = RELAY
        return None
    for station, token in config.station_tokens.items():
        if given and hmac.compare_digest(given, token.encode()):
            g.station = station
    return None if g.station else error(401, "a station token is required (Authorization: Bearer <token>)")


def _stamp(resp: Response) -> Response:
    resp.headers["X-Upstream-Time"] = isoformat(settings().clock.now())
    return resp


def _refused(exc: RequestRefused) -> Response:
    return error(exc.status, str(exc))


def _http_error(exc: HTTPException) -> Response:
    return error(exc.code or 500, f"{exc.code} {exc.name}: {exc.description}")


def _unexpected(exc: Exception) -> Response:
    log.exception("upstream request failed: %s", exc)
    return error(500, f"internal error ({type(exc).__name__}); see the server's log")


def _server(host: str, port: int, db: str | Path, threads: int = 8, **app_kw) -> tuple[Any, Pool]:
    """The waitress server and the app's pool of database connections (closed after the server)."""
    from waitress.server import create_server

    app = create_upstream_app(db, **app_kw)
    server = create_server(app, host=host, port=port, threads=threads, channel_timeout=30,
                           ident="packgate-upstream", asyncore_use_poll=True)
    return server, app.extensions["packgate.pool"]


def serve(host: str, port: int, db: str | Path, **app_kw) -> None:
    """Serve the reference upstream with waitress until interrupted."""
    server, pool = _server(host, port, db, **app_kw)
    log.info("packgate upstream on http://%s:%s (db %s)", host, server.effective_port, db)
    try:
        server.run()
    finally:
        server.close()
        pool.close_all()


def start_in_thread(host: str = "127.0.0.1", port: int = 0, db: str | Path = "upstream.db",
                    **app_kw) -> tuple[str, Callable[[], None]]:
    """Run the reference upstream in a daemon thread; returns ``(base_url, stop)``."""
    server, pool = _server(host, port, db, **app_kw)
    stopped = threading.Event()
    thread = threading.Thread(target=run_until, args=(server, stopped), name="packgate-upstream", daemon=True)
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join(timeout=5)
        pool.close_all()

    return f"http://{host}:{server.effective_port}", stop
