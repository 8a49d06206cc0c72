"""The web server of the station and of the site hub: cheroot (one thread per request in progress, TLS built in)
with a gate in front of its threads, so that slow or hostile clients on a shared Wi-Fi cannot starve it.

Invariants:

* **A thread only ever gets a request whose head has arrived.** The connection loop reads each request's line and
  headers itself, without blocking; a head not complete within ``header_timeout_s`` of its first byte (of the
  connection's opening, for a new connection) is answered 408 and closed. A client sending one header byte every
  two seconds holds a socket, never a thread. The TLS handshake is done the same way, under the same deadline
  (cheroot's own does it blocking, in the loop every connection shares).
* **At most ``max_per_client`` connections per client address** (more are closed at once, a 503 first on plain
  HTTP; the priority addresses are not limited) and at most ``max_connections`` in all (the process's descriptors).
* **Priority addresses have threads of their own**: a connection from one of ``priority`` (the station PC itself:
  its kiosk) is served by one of ``priority_threads`` reserved threads when one is free, and by the shared pool
  otherwise; no other client can take a reserved thread.
* **Idle connections hold no thread**: a kept-alive connection waits for its next request in the same selector loop
  (closed after ``idle_s``), so the server's cost does not grow with the number of idle clients (a site's stations
  each keep one open between their posts).
* **Open connections before new ones**: each pass of the loop reads the heads that arrived on connections already
  open, then accepts at most ``ACCEPTS_PER_WAKE`` new ones; a burst of new connections (hundreds of clients retrying
  together) never holds a kept-alive client's next request behind it.
* **An open stream holds no thread**: a handler that streams (server-sent events) calls
  ``environ["packgate.detach"](source)`` (which returns the pump's ``wake``) and returns its first bytes; once the
  response's head and those bytes have left, the connection goes to the server's ``StreamPump``
  (``sync.common.pump``: one thread writes every open stream) and the thread takes the next request. Under another
  server the key is absent and the handler streams from its own thread.
* ``stop()`` is prompt: the loop is woken through a pipe, not left to its next timeout.

``GatedServer(bind, app, numthreads=…, gate=Gate(…), tls_cert=…, tls_key=…)``; ``serve_in_thread(server)`` runs it
for tests and the hub; ``gate_counts`` shows what the gate refused (tests, /healthz).
"""
from __future__ import annotations

import logging
import os
import resource
import selectors
import signal
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from cheroot import wsgi
from cheroot.connections import ConnectionManager, prevent_socket_inheritance
from cheroot.makefile import MakeFile, StreamReader
from cheroot.server import HTTPConnection
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cheroot.workers.threadpool import ThreadPool

from packgate.sync.common.pump import Source, StreamPump

log = logging.getLogger(__name__)
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
MAX_HEAD = 64 * 1024
ACCEPTS_PER_WAKE = 8  # then the loop reads the heads that arrived meanwhile (the listener stays ready)


@dataclass(frozen=True)
class Gate:
    """What the gate admits: see the module's invariants."""

    header_timeout_s: float = 5.0
    max_per_client: int = 32
    priority: frozenset[str] = frozenset()
    priority_threads: int = 16
    max_connections: int = 0  # 0: from the process's descriptor limit
    idle_s: float = 0.0  # a kept-alive connection waiting this long for its next request is closed; 0: the timeout


def _descriptor_room() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, (soft if soft != resource.RLIM_INFINITY else 65536) - 128)


class _HeadReader(StreamReader):
    """cheroot's socket reader, starting with the bytes the gate already read (the request's head and whatever
    followed it)."""

    def __init__(self, sock: socket.socket, first: bytes, bufsize: int):
        super().__init__(sock, "rb", bufsize)
        self._read_buf = first  # _pyio.BufferedReader's own buffer: served before the socket is read again
        self._read_pos = 0

    def take_buffered(self) -> bytes:
        """The bytes read from the socket and not yet consumed (the start of a pipelined request)."""
        left = bytes(self._read_buf[self._read_pos:])
        self._read_buf, self._read_pos = b"", 0
        return left


class _GatedConnection(HTTPConnection):
    """A connection with the gate's state: the head read so far and its deadline, idle since, the lane it is in."""

    def __init__(self, server: Any, sock: Any, makefile: Any = MakeFile):
        super().__init__(server, sock, makefile)
        self.head = bytearray()
        self.head_deadline: float | None = None  # set while a request's head is arriving
        self.idle_since: float | None = None  # set while a kept-alive connection waits for its next request
        self.handshaken = not isinstance(sock, ssl.SSLSocket)
        self.client = ""
        self.in_lane = False
        self._counted = False
        self.detached: tuple[Source, bool] | None = None  # (what to stream, chunked): the pump's from now on

    def close(self) -> None:
        manager = getattr(self.server, "_connections", None)
        if self._counted and isinstance(manager, _GatedConnections):
            self._counted = False
            manager.released(self)
        super().close()


class _Lane:
    """The server as the reserved threads see it: the same server, another queue of connections."""

    def __init__(self, server: GatedServer, pool_size: int):
        self._server = server
        self.requests = ThreadPool(self, min=pool_size, max=pool_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def put_conn(self, conn: _GatedConnection) -> None:
        self._server.left_lane(conn)
        self._server.put_conn(conn)

    @property
    def interrupt(self) -> Any:
        return self._server.interrupt

    @interrupt.setter
    def interrupt(self, value: Any) -> None:
        self._server.interrupt = value


class _GatedConnections(ConnectionManager):
    """cheroot's connection loop, reading every request's head (and TLS handshake) before a thread sees it."""

    _selector: Any  # cheroot's, set by its __init__ (its type stubs leave the private parts out)
    _serving: bool
    _stop_requested: bool
    _remove_invalid_sockets: Callable[[], None]

    def __init__(self, server: GatedServer):
        super().__init__(server)
        self.gate: Gate = server.gate
        self.limit = self.gate.max_connections or _descriptor_room()
        self.counts: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r.fileno(), selectors.EVENT_READ, data=self._wake_r)
        server.socket.setblocking(False)

    # ---- accounting -------------------------------------------------------------------------------
    def released(self, conn: _GatedConnection) -> None:
        with self._lock:
            self.counts[conn.client] -= 1
            if self.counts[conn.client] <= 0:
                del self.counts[conn.client]
        self.server.left_lane(conn)

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    @property
    def can_add_keepalive_connection(self) -> bool:
        return self.open < self.limit  # cheroot's own rule closes every connection past 10 kept alive

    # ---- the loop --------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop_requested = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        while self._serving:
            time.sleep(0.005)

    def close(self) -> None:
        super().close()
        for end in (self._wake_r, self._wake_w):
            end.close()

    def put(self, conn: _GatedConnection) -> None:
        """A connection back from a thread after a response, kept alive: wait for its next request's head."""
        conn.last_used = time.time()
        first = conn.rfile.take_buffered() if isinstance(conn.rfile, _HeadReader) else b""
        conn.head = bytearray(first)
        conn.head_deadline = time.monotonic() + self.gate.header_timeout_s if first else None
        conn.idle_since = None if first else time.monotonic()
        try:
            conn.socket.setblocking(False)
        except OSError:
            conn.close()
            return
        if first and self._complete(conn):
            self._dispatch(conn)
            return
        if isinstance(conn.socket, ssl.SSLSocket) and conn.socket.pending():
            self._advance(conn)  # decrypted bytes wait inside TLS, where no select() sees them
            return
        self._watch(conn)

    def _watch(self, conn: _GatedConnection, events: int = selectors.EVENT_READ) -> None:
        try:
            self._selector.register(conn.socket.fileno(), events, data=conn)
        except (OSError, ValueError, KeyError):
            conn.close()

    def _run(self, expiration_interval: float) -> None:
        last_sweep = time.monotonic()
        sweep_every = min(expiration_interval, 0.25)
        while not self._stop_requested:
            try:
                ready = list(self._selector.select(timeout=sweep_every))
            except OSError:
                self._remove_invalid_sockets()
                continue
            accept = False
            for fd, conn in ready:  # the connections already open first: a burst of new ones waits its turn
                if conn is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                elif conn is self.server:
                    accept = True
                else:
                    self._selector.unregister(fd)
                    self._advance(conn)
            if accept:
                self._accept()
            now = time.monotonic()
            if now - last_sweep >= sweep_every:
                self._sweep(now)
                last_sweep = now

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                sock, addr = self.server.socket.accept()
            except (BlockingIOError, InterruptedError, socket.timeout):
                return
            except OSError:
                return  # the listener is closing
            client = str(addr[0]) if isinstance(addr, tuple) and addr else "?"
            with self._lock:
                crowded = self.counts[client] >= self.gate.max_per_client and client not in self.gate.priority
                full = sum(self.counts.values()) >= self.limit
                if not (crowded or full):
                    self.counts[client] += 1
            if crowded or full:
                self.refused["per_client" if crowded else "full"] += 1
                self._refuse_raw(sock, "503 Service Unavailable",
                                 f"too many connections from {client}" if crowded else "the server is full")
                continue
            conn = self._connection(sock, addr, client)
            if conn is not None:
                self._advance(conn)

    def _connection(self, sock: socket.socket, addr: Any, client: str) -> _GatedConnection | None:
        try:
            prevent_socket_inheritance(sock)
            sock.setblocking(False)
            makefile: Any = MakeFile
            adapter = self.server.ssl_adapter
            if adapter is not None:
                sock = adapter.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                makefile = adapter.makefile
        except OSError:
            with self._lock:
                self.counts[client] -= 1
            sock.close()
            return None
        conn = _GatedConnection(self.server, sock, makefile)
        conn.client, conn._counted = client, True
        conn.remote_addr, conn.remote_port = (addr[0], addr[1]) if isinstance(addr, tuple) else ("?", 0)
        conn.ssl_env = {}
        conn.head_deadline = time.monotonic() + self.gate.header_timeout_s
        return conn

    def _advance(self, conn: _GatedConnection) -> None:
        """Read what arrived (handshake first on TLS); hand the connection to a thread once its head is in."""
        if not conn.handshaken:
            state = self._handshake(conn)
            if state != "done":
                if state == "read" or state == "write":
                    self._watch(conn, selectors.EVENT_READ if state == "read" else selectors.EVENT_WRITE)
                return
        while True:
            try:
                chunk = conn.socket.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, InterruptedError):
                break
            except ssl.SSLWantWriteError:
                self._watch(conn, selectors.EVENT_WRITE)
                return
            except OSError:
                conn.close()
                return
            if not chunk:
                conn.close()
                return
            if conn.head_deadline is None:  # a kept-alive connection's next request begins
                conn.head_deadline, conn.idle_since = time.monotonic() + self.gate.header_timeout_s, None
            conn.head += chunk
            if len(conn.head) > MAX_HEAD or self._complete(conn):
                break
        if len(conn.head) > MAX_HEAD and not self._complete(conn):
            self.refused["head_too_large"] += 1
            self._refuse(conn, "431 Request Header Fields Too Large", "the request's head is larger than 64 KiB")
            return
        if self._complete(conn):
            self._dispatch(conn)
        else:
            self._watch(conn)

    @staticmethod
    def _complete(conn: _GatedConnection) -> bool:
        head = conn.head
        start = len(head) - len(head.lstrip(b"\r\n"))  # empty lines before a request line are allowed
        return head.find(b"\r\n\r\n", start) >= 0 or head.find(b"\n\n", start) >= 0

    def _handshake(self, conn: _GatedConnection) -> str:
        try:
            conn.socket.do_handshake()
        except ssl.SSLWantReadError:
            return "read"
        except ssl.SSLWantWriteError:
            return "write"
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():  # plain HTTP on the TLS port: say so in plain HTTP
                self._refuse_raw(conn.socket, "400 Bad Request", "this port speaks HTTPS only", counted=conn)
            else:
                conn.close()
            self.refused["tls"] += 1
            return "failed"
        except OSError:
            conn.close()
            return "failed"
        conn.handshaken = True
        try:
            conn.ssl_env = self.server.ssl_adapter.get_environ(conn.socket)
        except (OSError, ValueError, AttributeError):
            conn.ssl_env = {"wsgi.url_scheme": "https", "HTTPS": "on"}
        return "done"

    def _dispatch(self, conn: _GatedConnection) -> None:
        try:
            conn.socket.settimeout(self.server.timeout)
        except OSError:
            conn.close()
            return
        conn.rfile = _HeadReader(conn.socket, bytes(conn.head), conn.rbufsize)
        conn.head, conn.head_deadline, conn.idle_since = bytearray(), None, None
        conn.last_used = time.time()
        self.server.process_conn(conn)

    def _sweep(self, now: float) -> None:
        """Close heads past their deadline and kept-alive connections idle longer than the server's timeout."""
        for fd, conn in list(self._selector.connections):
            if not isinstance(conn, _GatedConnection):
                continue
            if conn.head_deadline is not None and now > conn.head_deadline:
                self._unregister(fd)
                self.refused["head_timeout"] += 1
                self._refuse(conn, "408 Request Timeout",
                             f"the request's head did not arrive within {self.gate.header_timeout_s:g} s")
            elif conn.idle_since is not None and now - conn.idle_since > (self.gate.idle_s or self.server.timeout):
                self._unregister(fd)
                conn.close()

    def _unregister(self, fd: int) -> None:
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _refuse(self, conn: _GatedConnection, status: str, why: str) -> None:
        if conn.handshaken:
            try:
                conn.socket.send(_answer(status, why))  # non-blocking: best effort, the client may not read
            except OSError:
                pass
        conn.close()

    def _refuse_raw(self, sock: socket.socket, status: str, why: str, counted: _GatedConnection | None = None) -> None:
        try:
            if self.server.ssl_adapter is None or counted is not None:
                sock.setblocking(False)
                os.write(sock.fileno(), _answer(status, why))
        except OSError:
            pass
        if counted is not None:
            counted.close()
        else:
            sock.close()


def _answer(status: str, why: str) -> bytes:
    body = ('{"error": "%s"}' % why.replace('"', "'")).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode("latin-1") + body


class _DetachingGateway(wsgi.Gateway_10):
    """cheroot's WSGI gateway, with ``packgate.detach`` in the environ: a handler that calls it with a ``Source``
    and answers 200 leaves its connection to the pump once its response (the head and its first bytes) is out."""

    _source: Source | None = None

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # cheroot's stubs say None
        env: dict[str, Any] = super().get_environ()
        env["packgate.detach"] = self._detach
        return env

    def _detach(self, source: Source) -> Callable[[], None]:
        """Hand the connection to the pump after this response; returns the pump's ``wake``."""
        self._source = source
        pump: StreamPump = self.req.server.pump
        return pump.wake

    def respond(self) -> None:
        self._source = None
        try:
            super().respond()
        except BaseException:
            if self._source is not None:
                self._source.closed()  # the client went while the head was written: no stream to hand over
            raise
        finally:  # the environ and this gateway point at each other: untied, a request is freed as it ends
            self.env.pop("packgate.detach", None)  # rather than by the cycle collector
        source, self._source = self._source, None
        if source is None:
            return
        req = self.req
        if req.sent_headers and req.status[:3] == b"200" and isinstance(req.conn, _GatedConnection):
            req.conn.detached = (source, bool(req.chunked_write))
            req.chunked_write = False  # the stream goes on: no last chunk now
            req.close_connection = False  # nor a close: the pump has it
        else:
            source.closed()


class GatedServer(wsgi.Server):
    """cheroot's WSGI server behind the gate (see the module)."""

    ConnectionClass = _GatedConnection
    _connections: Any  # cheroot's connection manager, ours once prepared

    def __init__(self, bind_addr: tuple[str, int], app: Any, *, numthreads: int, gate: Gate | None = None,
                 tls_cert: str = "", tls_key: str = "", server_name: str = "packgate", timeout: int = 10,
                 backlog: int = 128):
        super().__init__(bind_addr, app, numthreads=numthreads, server_name=server_name, timeout=timeout,
                         request_queue_size=backlog, shutdown_timeout=2)
        self.gate = gate or Gate()
        if tls_cert:
            self.ssl_adapter = BuiltinSSLAdapter(tls_cert, tls_key)
        self._lane = _Lane(self, self.gate.priority_threads) if self.gate.priority else None
        self._lane_busy = 0
        self._lane_lock = threading.Lock()
        self.gateway = _DetachingGateway
        self.pump = StreamPump(stall_s=float(timeout))

    def prepare(self) -> None:
        super().prepare()
        self.pump.start()
        plain = self._connections
        self._connections = _GatedConnections(self)
        plain._selector.close()  # cheroot's own manager, never run
        if self._lane is not None:
            self._lane.requests.start()

    def process_conn(self, conn: _GatedConnection) -> None:
        if self._lane is not None and conn.client in self.gate.priority:
            with self._lane_lock:
                free = self._lane_busy < self.gate.priority_threads
                if free:
                    self._lane_busy += 1
                    conn.in_lane = True
            if free:
                self._lane.requests.put(conn)
                return
        super().process_conn(conn)

    def put_conn(self, conn: _GatedConnection) -> None:
        """A connection back from a thread: to the pump when its handler detached it, else kept alive."""
        detached, conn.detached = conn.detached, None
        if detached is not None:
            self.left_lane(conn)
            self.pump.adopt(conn, detached[0], chunked=detached[1])
            return
        super().put_conn(conn)

    def left_lane(self, conn: _GatedConnection) -> None:
        with self._lane_lock:
            if conn.in_lane:
                conn.in_lane = False
                self._lane_busy -= 1

    def stop(self) -> None:
        self.pump.stop()
        super().stop()
        if self._lane is not None:
            self._lane.requests.stop(self.shutdown_timeout)

    @property
    def port(self) -> int:
        return int(self.bind_addr[1])

    @property
    def gate_counts(self) -> dict[str, int]:
        manager = getattr(self, "_connections", None)
        return dict(manager.refused) if isinstance(manager, _GatedConnections) else {}


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (systemd's stop): the caller then stops what it runs, cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def serve_in_thread(server: GatedServer, name: str = "packgate-web") -> Callable[[], None]:
    """Bind ``server`` and serve it from a daemon thread; returns ``stop``."""
    server.prepare()
    thread = threading.Thread(target=server.serve, name=name, daemon=True)
    thread.start()

    def stop() -> None:
        server.stop()
        thread.join(5)

    return stop


__all__ = ["Gate", "GatedServer", "LOOPBACK", "serve_in_thread", "wait_for_signal"]
