"""Running the HTTP servers: cheroot for the hub and the station, waitress for the reference upstream.

``cheroot_server`` builds a cheroot server (a fixed pool of worker threads; idle keep-alive connections wait in
one ``selectors`` loop, holding no thread, so their cost does not grow with their number); a request or an open
event stream holds a worker thread while it runs. ``serve_in_thread`` runs it from a daemon thread and returns a
``stop`` that ends it (open streams are told by their own stop signal first, see the callers).

``run_until`` runs a waitress server so it can be stopped cleanly from its own thread.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from cheroot import wsgi


def cheroot_server(app: Any, host: str, port: int, *, threads: int, name: str, timeout: int = 10,
                   backlog: int = 64, keepalive_limit: int | None = 10, tls_cert: str = "",
                   tls_key: str = "") -> wsgi.Server:
    """A prepared (listening) cheroot server for the WSGI ``app``. ``timeout`` is the socket timeout and the idle
    time after which a keep-alive connection is closed; ``keepalive_limit`` caps the idle keep-alive connections
    kept open (None: every client keeps its own, as a site's stations posting every few seconds do)."""
    server = wsgi.Server((host, port), app, numthreads=threads, server_name=name, timeout=timeout,
                         request_queue_size=backlog, shutdown_timeout=2)
    server.keep_alive_conn_limit = keepalive_limit  # type: ignore[assignment]  # None is documented: no limit
    if tls_cert:
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        server.ssl_adapter = BuiltinSSLAdapter(tls_cert, tls_key)
    server.prepare()
    return server


def serve_in_thread(server: wsgi.Server, name: str) -> Callable[[], None]:
    """Serve from a daemon thread named ``name``; returns ``stop`` (waits up to 5 s for the thread)."""
    thread = threading.Thread(target=server.serve, name=name, daemon=True)
    thread.start()

    def stop() -> None:
        server.stop()
        thread.join(5)

    return stop


def run_until(server: Any, stopped: threading.Event) -> None:
    """waitress's loop until ``stopped``; then shut down here, in the serving thread (closing the server
    from another thread while an event stream is open races on its sockets). The loop blocks until a
    socket or waitress's trigger wakes it; ``stopped`` pulls the trigger, so an idle server sleeps. poll, not
    select: select() cannot watch a descriptor numbered 1024 or more, which a busy hub process reaches."""
    def wake_on_stop() -> None:
        stopped.wait()
        server.pull_trigger()

    waker = threading.Thread(target=wake_on_stop, name="web-stop", daemon=True)
    waker.start()
    while not stopped.is_set():
        server.asyncore.loop(timeout=5.0, map=server._map, count=1, use_poll=True)
    waker.join(5)  # it pulls the trigger once more: close the trigger only after (its fd number could be reused)
    server.task_dispatcher.shutdown(timeout=2)
    for channel in list(server._map.values()):
        try:
            channel.close()
        except OSError:
            pass
