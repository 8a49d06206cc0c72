"""The smallest endpoint that takes the stations' confirmations, for ``scripts/bench-site`` to set the hub beside.

``python scripts/bench_site_minimal.py --db FILE|postgresql://… --port P`` serves ``POST /v1/confirmations`` with
Flask on the hub's own server stack (``--server waitress`` serves it the way the hub was served before, for the
comparison of servers): parse the body, one ``INSERT`` per confirmation and one ``COMMIT`` per request (SQLite
with the hub's durability settings, or PostgreSQL), answer every one ``accepted``. No authentication, no
deduplication, no order flow, no feed: what the framework and the database cost, and nothing else. ``GET
/healthz`` answers ``ok`` (the bench holds idle keep-alive connections with it). Prints one line when it listens.
"""
from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from flask import Flask, Response, jsonify, request

from packgate.sync.common.jsonbytes import loads
from packgate.sync.hub.engine import Database


def create_app(db: Database) -> Flask:
    app = Flask("bench-minimal")
    with db.tx() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_min (id TEXT PRIMARY KEY, station TEXT NOT NULL,"
                     " body TEXT NOT NULL)")

    @app.post("/v1/confirmations")
    def post() -> Response:
        envelope = loads(request.get_data())
        items: list[dict[str, Any]] = envelope["confirmations"]
        with db.tx() as conn:
            for item in items:
                conn.execute("INSERT INTO bench_min (id, station, body) VALUES (?, ?, ?)",
                             (item["id"], envelope["station"], request.get_data(as_text=True)))
        return jsonify({"results": [{"id": item["id"], "status": "accepted", "code": 200} for item in items]})

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b"ok", mimetype="text/plain")

    return app


def make_server(app: Flask, port: int, stack: str) -> Any:
    """The server the hub runs on (``sync/hub/server.py``), with the hub's settings; or waitress as the hub ran it
    before."""
    from packgate.sync.hub.config import SCHEMA

    threads = SCHEMA["site.threads"][1]
    if stack == "waitress":
        from waitress.server import create_server

        return create_server(app, host="127.0.0.1", port=port, threads=threads, channel_timeout=60,
                             connection_limit=2000, ident="packgate-site", asyncore_use_poll=True)
    from packgate.sync.common.webserver import Gate
    from packgate.sync.hub.server import IDLE_S
    from packgate.sync.hub.server import make_server as hub_server

    gate = Gate(header_timeout_s=SCHEMA["site.header_timeout_s"][1], max_per_client=100_000, idle_s=IDLE_S)
    return hub_server(app, "127.0.0.1", port, threads=threads, gate=gate)  # every simulated station is 127.0.0.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=("cheroot", "waitress"), default="cheroot")
    args = parser.parse_args()
    db = Database(args.db)
    server = make_server(create_app(db), args.port, args.server)
    if args.server != "waitress":
        server.prepare()  # bound and listening before the line below
    print(f"minimal endpoint listening on http://127.0.0.1:{args.port}", flush=True)
    threading.current_thread().name = "bench-minimal"
    server.run() if args.server == "waitress" else server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
