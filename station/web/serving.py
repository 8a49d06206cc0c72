"""The station's HTTP server: the gated cheroot server of ``sync.common.webserver`` (TLS built in).

One thread per request in progress: an event stream holds one, so the pool is sized for ``STREAMS_MAX`` streams
plus ``ACTION_THREADS`` for everything else (the app refuses a stream beyond the limit). An idle stream writes a
comment every ``events.PROBE_S``; a client that has gone fails that write and its thread is free again.
The gate keeps slow or hostile clients on the Wi-Fi from holding threads (a request's head must arrive within
``web.header_timeout_s``, at most ``web.max_connections_per_client`` connections per address), and the station PC
itself (loopback: the kiosk) has ``KIOSK_THREADS`` threads no other client can take. ``stop()`` returns as soon as
the threads are done: a pipe wakes the connection loop (it does not wait out its select).
"""
from __future__ import annotations

from typing import Any

from packgate.station.events import STREAMS_MAX
from packgate.sync.common.webserver import LOOPBACK, Gate, GatedServer
from packgate.sync.common.webserver import serve_in_thread as _serve

ACTION_THREADS = 32
KIOSK_THREADS = 16


def station_gate(header_timeout_s: float = 5.0, max_per_client: int = 32) -> Gate:
    return Gate(header_timeout_s=header_timeout_s, max_per_client=max_per_client, priority=LOOPBACK,
                priority_threads=KIOSK_THREADS)


def make_server(app: Any, host: str, port: int, *, tls_cert: str = "", tls_key: str = "",
                gate: Gate | None = None) -> GatedServer:
    server = GatedServer((host, port), app, numthreads=STREAMS_MAX + ACTION_THREADS, gate=gate or station_gate(),
                         tls_cert=tls_cert, tls_key=tls_key)
    server.prepare()
    return server


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *, gate: Gate | None = None,
                    **tls: str) -> tuple[str, Any]:
    """Serve ``app`` from a daemon thread; returns ``(base_url, stop)``."""
    server = GatedServer((host, port), app, numthreads=STREAMS_MAX + ACTION_THREADS, gate=gate or station_gate(),
                         tls_cert=tls.get("tls_cert", ""), tls_key=tls.get("tls_key", ""))
    stop = _serve(server)
    scheme = "https" if tls.get("tls_cert") else "http"
    return f"{scheme}://{host}:{server.port}", stop
