"""The gated server's connection loop reads the requests of connections already open before it accepts new ones (real
sockets, the real server): a burst of new connections (300 long-polls of one token retrying together every second)
held a station's next confirmation, on its kept-alive connection, behind 64 accepts in a pass (hub ingest p99
0.4-0.8 s on a busy machine)."""
from __future__ import annotations

import socket
import time
from typing import Any, Callable, Iterable

from packgate.sync.common.webserver import ACCEPTS_PER_WAKE, Gate, GatedServer, serve_in_thread

BURST = 40


def _recorder(served: list[str]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        served.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    return app


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def test_a_request_on_an_open_connection_is_not_held_behind_a_burst_of_new_connections() -> None:
    served: list[str] = []
    server = GatedServer(("127.0.0.1", 0), _recorder(served), numthreads=1,  # one thread: served in dispatch order
                         gate=Gate(max_per_client=BURST + 10))
    stop = serve_in_thread(server)
    port = server.port
    kept = socket.create_connection(("127.0.0.1", port), timeout=10)
    burst: list[socket.socket] = []
    try:
        kept.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(kept).startswith(b"HTTP/1.1 200")  # kept alive: back in the connection loop
        loop = server._connections
        with loop._lock:  # the loop stops inside its next accept, with the whole burst waiting to be accepted
            for n in range(BURST):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(f"GET /new/{n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                burst.append(sock)
            time.sleep(0.3)
            kept.sendall(b"GET /kept HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.3)
        assert _answer(kept).startswith(b"HTTP/1.1 200")
        for sock in burst:
            assert _answer(sock).startswith(b"HTTP/1.1 200")
    finally:
        for sock in [kept, *burst]:
            sock.close()
        stop()
    assert len(served) == BURST + 2 and served[0] == "/first"
    # accepted before it: at most the pass the loop was in when the request came (before: the whole burst)
    assert served.index("/kept") <= min(ACCEPTS_PER_WAKE + 1, BURST // 2), served
