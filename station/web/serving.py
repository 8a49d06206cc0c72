"""The station's HTTP server: cheroot (``sync.common.serving.cheroot_server``), a fixed pool of worker threads,
TLS built in.

One thread per open connection: an event stream holds one, so the pool is sized for ``STREAMS_MAX`` streams
plus ``ACTION_THREADS`` for everything else (the app refuses a stream beyond the limit). An idle stream writes a
comment every ``events.PROBE_S``; a client that has gone fails that write and its thread is free again.
"""
from __future__ import annotations

from typing import Any

from cheroot import wsgi

from packgate.station.events import STREAMS_MAX
from packgate.sync.common.serving import cheroot_server
from packgate.sync.common.serving import serve_in_thread as serve_server

ACTION_THREADS = 32


def make_server(app: Any, host: str, port: int, *, tls_cert: str = "", tls_key: str = "") -> wsgi.Server:
    return cheroot_server(app, host, port, threads=STREAMS_MAX + ACTION_THREADS, name="packgate", timeout=10,
                          backlog=64, tls_cert=tls_cert, tls_key=tls_key)


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, **tls: str) -> tuple[str, Any]:
    """Serve ``app`` from a daemon thread; returns ``(base_url, stop)``."""
    server = make_server(app, host, port, **tls)
    stop = serve_server(server, "packgate-web")
    scheme = "https" if tls.get("tls_cert") else "http"
    return f"{scheme}://{host}:{server.bind_addr[1]}", stop
