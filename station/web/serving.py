"""The station's HTTP server: cheroot, a fixed pool of worker threads, TLS built in.

One thread per open connection: an event stream holds one, so the pool is sized for ``STREAMS_MAX`` streams
plus ``ACTION_THREADS`` for everything else (the app refuses a stream beyond the limit). An idle stream writes a
comment every ``events.PROBE_S``; a client that has gone fails that write and its thread is free again.
``stop()`` returns as soon as the threads are done: it does not wait out the connection loop's select.
"""
from __future__ import annotations

import socket
import threading
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from packgate.station.events import STREAMS_MAX

ACTION_THREADS = 32


class Server(wsgi.Server):
    """cheroot's WSGI server with a prompt ``stop``. cheroot's connection loop looks at its stop flag once per
    select, which sleeps up to ``expiration_interval`` (0.5 s) when no client speaks: while ``stop`` waits for
    that loop, connections to the server's own listener wake it."""

    WAKE_EVERY_S = 0.01

    def stop(self) -> None:
        listener = self.socket
        if not self.ready or listener is None:
            super().stop()
            return
        address = listener.getsockname()[:2]
        stopped = threading.Event()

        def wake_the_loop() -> None:
            while not stopped.wait(self.WAKE_EVERY_S):
                try:
                    socket.create_connection(address, timeout=1.0).close()
                except OSError:  # the listener is closed: the loop has ended
                    return

        waker = threading.Thread(target=wake_the_loop, name="web-stop", daemon=True)
        waker.start()
        try:
            super().stop()
        finally:
            stopped.set()
            waker.join()


def make_server(app: Any, host: str, port: int, *, tls_cert: str = "", tls_key: str = "") -> Server:
    server = Server((host, port), app, numthreads=STREAMS_MAX + ACTION_THREADS, server_name="packgate",
                         timeout=10, request_queue_size=64, shutdown_timeout=2)
    if tls_cert:
        server.ssl_adapter = BuiltinSSLAdapter(tls_cert, tls_key)
    server.prepare()
    return server


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, **tls: str) -> tuple[str, Any]:
    """Serve ``app`` from a daemon thread; returns ``(base_url, stop)``."""
    server = make_server(app, host, port, **tls)
    thread = threading.Thread(target=server.serve, name="packgate-web", daemon=True)
    thread.start()
    scheme = "https" if tls.get("tls_cert") else "http"

    def stop() -> None:
        server.stop()
        thread.join(5)

    return f"{scheme}://{host}:{server.bind_addr[1]}", stop
