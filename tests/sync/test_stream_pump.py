"""An open stream holds a socket, not a thread: the gated server hands a detached response's connection to its one
pump thread, which writes every stream without blocking (real sockets, the real server): more streams than threads
are served and the server still answers; silence is broken by keep-alives; a client that goes ends its stream at
once, one that reads nothing is closed after the stall limit; ``stop()`` ends every stream with its last chunk; an
HTTP/1.0 client gets the bytes unframed."""
from __future__ import annotations

import http.client
import queue
import socket
import ssl
import threading
import time
from typing import Any, Callable, Iterable

import pytest
from polling import eventually

from packgate.sync.common.webserver import Gate, GatedServer, serve_in_thread
from packgate.sync.hub.tls import issue, make_ca


class Pushed:
    """A stream's source: what the test pushes, pulled by the pump when woken."""

    def __init__(self, keepalive_s: float):
        self.keepalive_s = keepalive_s
        self.items: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.over = False
        self.fail = ""
        self.ended = threading.Event()

    def pull(self) -> bytes | None:
        if self.fail:
            raise OSError(self.fail)
        if self.over:
            return None
        out = []
        while True:
            try:
                out.append(self.items.get_nowait())
            except queue.Empty:
                return b"".join(out)

    def keepalive(self) -> bytes:
        return b": keep-alive\n\n"

    def closed(self) -> None:
        self.ended.set()


class Streams:
    """A WSGI app: ``/stream`` detaches (its first bytes ``: open``), anything else answers ``ok``."""

    def __init__(self, keepalive_s: float = 30.0):
        self.keepalive_s = keepalive_s
        self.sources: list[Pushed] = []
        self.wake: Callable[[], None] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/stream":
            source = Pushed(self.keepalive_s)
            self.wake = environ["packgate.detach"](source)
            self.sources.append(source)
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return iter([b": open\n\n"])
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    def push(self, data: bytes) -> None:
        for source in self.sources:
            source.items.put(data)
        assert self.wake is not None
        self.wake()


def serve(app: Streams, *, threads: int = 2, timeout: int = 10) -> tuple[GatedServer, Callable[[], None]]:
    server = GatedServer(("127.0.0.1", 0), app, numthreads=threads, gate=Gate(max_per_client=200), timeout=timeout)
    return server, serve_in_thread(server)


OPEN: dict[int, http.client.HTTPConnection] = {}  # each stream's client connection, closed with it


def open_stream(port: int) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/stream")
    resp = conn.getresponse()
    OPEN[id(resp)] = conn
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.read1(64) == b": open\n\n"
    return resp


def close_stream(resp: http.client.HTTPResponse) -> None:
    resp.close()
    OPEN.pop(id(resp)).close()


def read_until(resp: http.client.HTTPResponse, want: bytes) -> bytes:
    data = b""
    while want not in data:
        chunk = resp.read1(65536)
        assert chunk, f"the stream ended after {data!r}"
        data += chunk
    return data


def test_more_streams_than_threads_are_written_by_the_pump_and_the_server_still_answers() -> None:
    app = Streams()
    server, stop = serve(app, threads=2)
    streams = [open_stream(server.port) for _ in range(20)]  # twenty streams on two threads
    try:
        assert eventually(lambda: server.pump.open == 20)
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        plain.request("GET", "/ok")
        assert plain.getresponse().read() == b"ok"  # no thread is held by a stream
        plain.close()
        app.push(b"data: one\n\n")
        app.push(b"data: two\n\n")
        for resp in streams:
            assert read_until(resp, b"data: two\n\n").startswith(b"data: one\n\n")  # in order, chunk-framed
    finally:
        for resp in streams:
            close_stream(resp)
        stop()


def test_a_silent_stream_gets_keep_alives_and_a_client_that_goes_ends_its_stream_at_once() -> None:
    app = Streams(keepalive_s=0.2)
    server, stop = serve(app)
    try:
        resp = open_stream(server.port)
        assert read_until(resp, b": keep-alive\n\n")
        assert server._connections.open == 1
        close_stream(resp)  # the client goes: its socket reads as closed, the pump ends the stream
        assert app.sources[0].ended.wait(2)
        assert eventually(lambda: server.pump.open == 0 and server._connections.open == 0)
    finally:
        stop()


def test_a_client_that_reads_nothing_is_closed_after_the_stall_limit_and_the_others_go_on() -> None:
    app = Streams()
    server, stop = serve(app, timeout=1)  # the server's timeout is the pump's stall limit
    stuck = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        assert eventually(lambda: server.pump.open == 1)
        reader = open_stream(server.port)
        got = [0]

        def read_all() -> None:  # a client that keeps reading
            while chunk := reader.read1(65536):
                got[0] += len(chunk)

        reading = threading.Thread(target=read_all, daemon=True)
        reading.start()
        began = time.monotonic()
        for _ in range(60):  # 6 MB for every stream: more than the kernel takes for the stuck socket (tcp_wmem's 4 MB
            # at most), less than a stream's buffer (8 MB): bytes wait in the pump
            app.push(b"data: " + b"x" * 100_000 + b"\n\n")
        assert app.sources[0].ended.wait(5) and time.monotonic() - began >= 0.9
        assert eventually(lambda: got[0] >= 60 * 100_008)  # the reading stream had everything meanwhile
        assert not app.sources[1].ended.is_set()
        app.sources[1].over = True  # its end, cleanly: the reading thread sees the last chunk
        app.push(b"")
        reading.join(5)
        assert not reading.is_alive()
        close_stream(reader)
    finally:
        stuck.close()
        stop()


def test_stop_ends_every_stream_with_its_last_chunk() -> None:
    app = Streams()
    server, stop = serve(app)
    resp = open_stream(server.port)
    assert eventually(lambda: server.pump.open == 1)
    app.sources[0].over = True  # the source says the stream is over: the last chunk, then the close
    app.push(b"")
    assert resp.read() == b""  # a clean end of the chunked body (a cut one raises IncompleteRead)
    assert app.sources[0].ended.wait(2)
    second = open_stream(server.port)
    stop()
    assert second.read() == b""
    assert app.sources[1].ended.is_set()
    close_stream(resp)
    close_stream(second)


def test_an_http_1_0_client_gets_the_stream_unframed() -> None:
    app = Streams()
    server, stop = serve(app)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        data = b""
        while b": open\n\n" not in data:
            data += sock.recv(4096)
        assert b"Transfer-Encoding" not in data
        assert eventually(lambda: server.pump.open == 1)
        app.push(b"data: plain\n\n")
        while b"data: plain\n\n" not in data:
            data += sock.recv(4096)
        assert data.endswith(b": open\n\ndata: plain\n\n")
    finally:
        sock.close()
        stop()



def test_a_source_that_fails_ends_its_own_stream_only(caplog) -> None:
    app = Streams()
    server, stop = serve(app)
    good, bad = open_stream(server.port), open_stream(server.port)
    streams = [good, bad]
    try:
        assert eventually(lambda: server.pump.open == 2)
        app.sources[1].fail = "the database is gone"  # its next pull raises
        app.push(b"data: after\n\n")
        assert app.sources[1].ended.wait(2)
        with pytest.raises(http.client.IncompleteRead):
            bad.read()  # cut, not ended cleanly: the client reconnects from its last event
        assert read_until(good, b"data: after\n\n")  # the other stream goes on
        assert "the database is gone" in caplog.text
        streams.append(open_stream(server.port))  # and the pump takes new streams
        app.push(b"data: later\n\n")
        assert read_until(streams[-1], b"data: later\n\n")
    finally:
        for resp in streams:
            close_stream(resp)
        stop()


def test_over_tls_a_stuck_client_is_closed_and_a_reading_one_gets_every_byte_intact(tmp_path) -> None:
    make_ca(tmp_path / "ca", "DC1")
    cert = issue(tmp_path / "ca", "hub", ["127.0.0.1"])
    app = Streams()
    server = GatedServer(("127.0.0.1", 0), app, numthreads=2, gate=Gate(max_per_client=50), timeout=1,
                         tls_cert=str(cert.cert), tls_key=str(cert.key))
    stop = serve_in_thread(server)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca" / "site-ca.pem"))
    stuck = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=10),
                                server_hostname="127.0.0.1")
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    reader = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=context)
    try:
        assert eventually(lambda: server.pump.open == 1)
        reader.request("GET", "/stream")
        resp = reader.getresponse()
        assert resp.read1(64) == b": open\n\n"
        assert eventually(lambda: server.pump.open == 2)
        got = bytearray()

        def read_all() -> None:
            while chunk := resp.read1(65536):
                got.extend(chunk)

        reading = threading.Thread(target=read_all, daemon=True)
        reading.start()
        # 6 MB in pieces: more than the kernel takes for the stuck socket (tcp_wmem's 4 MB at most), less than a
        # stream's buffer (8 MB): TLS writes the stuck socket refuses wait and are retried as they were
        sent = b"".join(b"data: %06d %s\n\n" % (n, bytes([65 + n % 26]) * 50_000) for n in range(120))
        for start in range(0, len(sent), 150_000):
            app.push(sent[start:start + 150_000])
        assert app.sources[0].ended.wait(5)  # the stuck client: closed after the stall limit
        app.sources[1].over = True
        app.push(b"")
        reading.join(10)
        assert bytes(got) == sent  # every byte, in order, through refused and retried TLS writes
    finally:
        stuck.close()
        reader.close()
        stop()
