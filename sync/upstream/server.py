"""The reference upstream: a Flask app over SQLite implementing the contract in ``openapi.json``.

``create_upstream_app(db_path)`` builds the app; ``serve(host, port, db)`` runs it with waitress;
``start_in_thread(host, port, db) -> (base_url, stop)`` runs it in a background thread for tests
and the demo. A WMS integrator implements the same contract; this server is the executable spec.
"""
from __future__ import annotations

import hmac
import json
import logging
import sqlite3
import threading
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, g, jsonify, request

from packgate.device.clock import Clock, isoformat, parse_iso
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.jsonbytes import loads
from packgate.sync.common.pool import Pool
from packgate.sync.common.serving import run_until
from packgate.sync.upstream import labels, store

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_REF_PAGE = 5000


def openapi_document() -> dict:
    return json.loads(resources.files("packgate.sync.upstream").joinpath("openapi.json").read_text(encoding="utf-8"))


def create_upstream_app(db_path: str | Path, *, clock: Clock | None = None, strict_orders: bool = True,
                        seed_demo: bool = False, today: date | None = None, station_tokens: dict[str, str] | None = None,
                        admin_token: str | None = None) -> Flask:
    """The reference upstream app; ``strict_orders`` rejects confirmations for unknown orders.

    With ``station_tokens`` (station id -> token) every call but /healthz and /openapi.json needs
    ``Authorization: Bearer <token>``: a station's token reads reference data and posts that station's
    confirmations only; ``admin_token`` alone opens /v1/admin/* (and reads everything). Without tokens the
    server is open (a contract test bench on 127.0.0.1 only)."""
    clock = clock or Clock()
    app = Flask("packgate-upstream")
    app.config.update(PACKGATE_DB=str(db_path), JSON_SORT_KEYS=False)
    conn = connect(db_path)
    try:
        store.ensure_schema(conn)
        labels.ensure_schema(conn)
        if seed_demo:
            from packgate.sync.upstream.demo_data import seed
            seed(conn, today=today or clock.now().date(), now=clock.now())
    finally:
        conn.close()

    pool: Pool[sqlite3.Connection] = Pool(lambda: connect(db_path), lambda c: c.close(), keep=8)
    app.extensions["packgate.pool"] = pool  # closed by the server's stop

    def db():
        conn = g.get("db")
        if conn is None:
            conn = g.db = pool.take()
        return conn

    @app.teardown_appcontext
    def _give_back(_exc: BaseException | None) -> None:
        conn = g.pop("db", None)
        if conn is not None:
            if conn.in_transaction:  # a request died mid-transaction: the next one starts clean
                conn.execute("ROLLBACK")
            pool.give(conn)

    @app.before_request
    def _authorise() -> Response | None:
        if station_tokens is None or request.path in ("/healthz", "/openapi.json"):
            return None
        header = request.headers.get("Authorization", "")
        given = header[7:].strip().encode() if header.startswith("Bearer ") else b""
        g.station = None
        if admin_token and given and hmac.compare_digest(given, admin_token.encode()):
            g.station = "*admin*"
            return None
        if request.path.startswith("/v1/admin/"):
            return error(403 if given else 401, "the admin token is required")
        for station, token in station_tokens.items():
            if given and hmac.compare_digest(given, token.encode()):
                g.station = station
        return None if g.station else error(401, "a station token is required (Authorization: Bearer <token>)")

    @app.after_request
    def _stamp(resp: Response) -> Response:
        resp.headers["X-Upstream-Time"] = isoformat(clock.now())
        return resp

    def error(status: int, message: str) -> Response:
        resp = jsonify({"error": message})
        resp.status_code = status
        return resp

    @app.get("/healthz")
    def healthz():
        conn = db()
        sqlite = {"synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
                  "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                  "busy_timeout_ms": conn.execute("PRAGMA busy_timeout").fetchone()[0]}
        return jsonify({"ok": True, "time": isoformat(clock.now()), "sqlite": sqlite})

    @app.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document())

    @app.post("/v1/confirmations")
    def post_confirmations():
        try:
            envelope = loads(request.get_data())
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"body is not JSON: {exc}")
        if not isinstance(envelope, dict) or not isinstance(envelope.get("station"), str) \
                or not isinstance(envelope.get("confirmations"), list):
            return error(400, 'expected {"station": "...", "confirmations": [...]}')
        items = envelope["confirmations"]
        if station_tokens is not None and g.station not in (envelope["station"], "*admin*"):
            return error(403, f"this token belongs to station {g.station}, not {envelope['station']!r}")
        if len(items) > MAX_BATCH:
            return error(413, f"at most {MAX_BATCH} confirmations per request")
        conn = db()
        with write_tx(conn):
            results = store.receive(conn, envelope["station"], items, clock.now(), strict_orders=strict_orders)
        return jsonify({"results": results})

    @app.get("/v1/confirmations")
    def list_confirmations():
        station = request.args.get("station", "")
        try:
            since = parse_iso(request.args["since"])
            until = parse_iso(request.args["until"])
        except KeyError as exc:
            return error(400, f"missing query parameter {exc}")
        except ValueError as exc:
            return error(400, str(exc))
        by = request.args.get("by", "at")
        if by not in ("at", "received"):
            return error(400, "by must be 'at' or 'received'")
        return jsonify({"station": station, "ids": store.reconcile(db(), station, since, until, by)})

    @app.get("/v1/orders/<order_id>/confirmations")
    def order_confirmations(order_id: str):
        return jsonify({"order_id": order_id, "confirmations": store.order_confirmations(db(), order_id)})

    @app.get("/v1/reference")
    def reference():
        since_text = request.args.get("since") or "0"
        try:
            since = int(since_text)
            limit = min(int(request.args.get("limit", MAX_REF_PAGE)), MAX_REF_PAGE)
        except ValueError:
            return error(400, "since must be a cursor from a previous answer; limit an integer")
        if since < 0 or limit < 1:
            return error(400, "since must be >= 0 and limit >= 1")
        conn = db()
        conn.execute("BEGIN")  # one snapshot for rows and cursor
        try:
            data = store.reference_since(conn, since, limit)
        finally:
            conn.execute("COMMIT")
        return jsonify(data)

    @app.post("/v1/admin/<kind>")
    def admin_upsert(kind: str):
        if kind not in store.KINDS:
            return error(404, f"unknown kind {kind!r}; one of {', '.join(store.KINDS)}")
        try:
            body = loads(request.get_data())
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"body is not JSON: {exc}")
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return error(400, 'expected {"items": [...]} or a JSON list')
        conn = db()
        try:
            with write_tx(conn):
                cursor = store.upsert_reference(conn, kind, items, clock.now())
        except ValueError as exc:
            return error(400, str(exc))
        return jsonify({"cursor": str(cursor), "count": len(items)})

    def label_desk(action: Callable) -> Response:
        try:
            body = loads(request.get_data())
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"body is not JSON: {exc}")
        conn = db()
        try:
            with write_tx(conn):
                return jsonify(action(conn, body, clock.now()))
        except labels.LabelRequestError as exc:
            return error(exc.status, str(exc))

    @app.post("/v1/labels")
    def post_label():
        return label_desk(labels.request_label)

    @app.post("/v1/waybills/reserve")
    def reserve_waybills():
        return label_desk(labels.reserve)

    @app.get("/v1/admin/stats")
    def admin_stats():
        return jsonify(store.stats(db()))

    @app.get("/v1/admin/shipments")
    def admin_shipments():
        return jsonify({"shipments": store.shipments(db())})

    return app


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
