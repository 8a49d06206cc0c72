"""A small HTTP/1.1 client with an overall deadline per request.

``requests``' timeout is per socket read: a body drip-fed one byte every 0.3 s never trips it.
Here a watchdog thread shuts the socket down when the deadline passes, whatever phase the
request is in (connect, send, headers, body), and the body is read in chunks against the clock.
Connections are kept alive per thread and dropped after any error or a long idle.

``FailoverHTTP`` spreads one service over several base URLs (the hubs of a site): see its docstring; https and http
are never mixed in one list (a request that failed over HTTPS never goes out in plain text). ``ca_file`` adds a
site's own CA to the system's bundle (``tls_context``);
``connect_http(urls)`` returns the one or the other. A request made with a ``Cancel`` ends as soon as another
thread sets it (its socket is shut down, as the watchdog does): a loop stopping does not wait out a long-poll.

``stream(path, headers, idle_s=…)`` reads an endless answer (server-sent events) line by line on a connection of
its own: there is no overall deadline, but every read waits at most ``idle_s`` (the server's keep-alive comments
keep a live stream talking), and a ``Cancel`` ends it at once. A status other than 200 raises before any line:
``TransientUpstreamError`` for 5xx, 408 and 429, ``PermanentUpstreamError`` otherwise (e.g. 404: no such stream).
"""
from __future__ import annotations

import http.client
import logging
import math
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence
from urllib.parse import urlsplit

from packgate.sync.common.pool import Pool
from packgate.sync.errors import BadResponseError, DeadlineExceededError, PermanentUpstreamError, RequestCancelledError, TransientUpstreamError

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024 * 1024
FAILOVER_CONNECT_S = 2.0
FAILOVER_STATUSES = frozenset({502, 503, 504})
IDLE_REUSE_S = 4.0
MAX_LINE = 16 * 1024 * 1024  # one line of a stream (a server-sent event's data)
TRANSIENT_STATUSES = frozenset({408, 429})


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    elapsed_s: float
    sent_at: float = field(default=0.0)  # monotonic time the request went out

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Cancel:
    """A switch for requests in flight: ``set()`` (from any thread) aborts those made with it, now and later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._live: dict[int, tuple[http.client.HTTPConnection, threading.Event]] = {}

    def set(self) -> None:
        with self._lock:
            self._set = True
            live = list(self._live.values())
        for conn, fired in live:
            _abort(conn, fired)

    def is_set(self) -> bool:
        return self._set

    def enter(self, conn: http.client.HTTPConnection, fired: threading.Event) -> None:
        with self._lock:
            if self._set:
                raise RequestCancelledError("request cancelled before it started")
            self._live[id(conn)] = (conn, fired)

    def leave(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._live.pop(id(conn), None)


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificates verified against the system's bundle plus, with ``ca_file``, a site's own CA (added to the
    bundle, not replacing it: the WMS's public certificate still verifies)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def ca_file_problem(path: str) -> str | None:
    """Why ``path`` is not a PEM file of CA certificates this process can read, or None."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except FileNotFoundError:
        return f"no file {path!r}"
    except PermissionError:
        return f"{path!r} cannot be read by this user"
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"{path!r} holds no PEM certificate ({exc})"
    return None


class DeadlineHTTP:
    def __init__(self, base_url: str, *, deadline_s: float = 10.0, connect_s: float | None = None,
                 ca_file: str | None = None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL {base_url!r} must be http(s)://host[:port][/prefix]")
        self.scheme, self.host = parts.scheme, parts.hostname
        self._tls = tls_context(ca_file) if parts.scheme == "https" else None
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.deadline_s = deadline_s
        self.connect_s = connect_s  # a shorter limit for opening the connection (None: the whole deadline)
        self._conns: Pool[http.client.HTTPConnection] = Pool(self._open, lambda conn: conn.close(),
                                                              max_idle_s=IDLE_REUSE_S)

    def close(self) -> None:
        """Close the kept connections (on shutdown); one still in use closes when its request ends."""
        self._conns.close_all()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                *, deadline_s: float | None = None, after_send: Callable[[], None] | None = None,
                cancel: Cancel | None = None) -> Response:
        budget = self.deadline_s if deadline_s is None else deadline_s
        start = time.monotonic()
        deadline = start + budget
        conn = self._conns.take()
        conn.timeout = budget
        if conn.sock is not None:
            conn.sock.settimeout(budget)
        fired = threading.Event()
        token = _WATCHDOG.arm(deadline, conn, fired)
        try:
            if cancel is not None:
                cancel.enter(conn, fired)
            if conn.sock is None and self.connect_s is not None:
                conn.timeout = min(budget, self.connect_s)
                conn.connect()
                assert conn.sock is not None
                conn.sock.settimeout(budget)
            conn.request(method, self.prefix + path, body=body, headers=headers or {})
            if cancel is not None and cancel.is_set():  # set while connecting: there was no socket to shut
                raise RequestCancelledError(f"{method} {path}: cancelled")
            sent_at = time.monotonic()
            if after_send is not None:
                after_send()
            resp = conn.getresponse()
            chunks, total = [], 0
            while True:
                if time.monotonic() > deadline:
                    raise DeadlineExceededError(f"{method} {path}: body not complete within {budget:g} s")
                chunk = resp.read(16384)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_BODY:
                    raise BadResponseError(f"{method} {path}: response larger than {MAX_BODY} bytes")
                chunks.append(chunk)
            if resp.length:  # Content-Length promised more than arrived
                raise BadResponseError(f"{method} {path}: truncated body ({total} bytes, {resp.length} missing)")
            if fired.is_set() or time.monotonic() > deadline:
                raise DeadlineExceededError(f"{method} {path}: not complete within {budget:g} s")
            result = Response(resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()},
                              b"".join(chunks), time.monotonic() - start, sent_at)
            if resp.will_close:
                self._conns.discard(conn)
            else:
                self._conns.give(conn)
            return result
        except TransientUpstreamError as exc:
            self._conns.discard(conn)
            if cancel is not None and cancel.is_set() and not isinstance(exc, RequestCancelledError):
                raise RequestCancelledError(f"{method} {path}: cancelled") from exc
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._conns.discard(conn)
            if cancel is not None and cancel.is_set():
                raise RequestCancelledError(f"{method} {path}: cancelled") from exc
            if fired.is_set() or time.monotonic() >= deadline:
                raise DeadlineExceededError(f"{method} {path}: not complete within {budget:g} s ({exc!r})") from exc
            if isinstance(exc, http.client.IncompleteRead):
                raise BadResponseError(f"{method} {path}: truncated body ({exc!r})") from exc
            raise TransientUpstreamError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # after_send may raise (a test's kill switch): the connection is mid-request
            self._conns.discard(conn)
            raise
        finally:
            _WATCHDOG.disarm(token)
            if cancel is not None:
                cancel.leave(conn)

    def _open(self) -> http.client.HTTPConnection:
        if self._tls is not None:
            return http.client.HTTPSConnection(self.host, self.port, context=self._tls)
        return http.client.HTTPConnection(self.host, self.port)

    def stream(self, path: str, headers: dict[str, str] | None = None, *, idle_s: float,
               cancel: Cancel | None = None) -> Iterator[bytes]:
        """``GET path`` read line by line (without line ends) until the server ends it; see the module's docstring."""
        conn = self._open()
        fired = threading.Event()
        try:
            if cancel is not None:
                cancel.enter(conn, fired)
            conn.timeout = min(idle_s, self.connect_s or idle_s)
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(idle_s)
            conn.request("GET", self.prefix + path, headers=headers or {})
            resp = conn.getresponse()
            if resp.status != 200:
                detail = resp.read(4096).decode("utf-8", "replace").strip()
                error = TransientUpstreamError if resp.status >= 500 or resp.status in TRANSIENT_STATUSES \
                    else PermanentUpstreamError
                raise error(f"GET {path}: HTTP {resp.status} {detail}", status=resp.status)
            while True:
                line = resp.readline(MAX_LINE)
                if not line:
                    if cancel is not None and cancel.is_set():  # its socket was shut down
                        raise RequestCancelledError(f"GET {path}: cancelled")
                    return
                if not line.endswith(b"\n"):
                    raise BadResponseError(f"GET {path}: a line longer than {MAX_LINE} bytes, or cut off")
                yield line.rstrip(b"\r\n")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if cancel is not None and cancel.is_set():
                raise RequestCancelledError(f"GET {path}: cancelled") from exc
            if isinstance(exc, TimeoutError):
                raise DeadlineExceededError(f"GET {path}: the stream said nothing for {idle_s:g} s") from exc
            raise TransientUpstreamError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        finally:
            if cancel is not None:
                cancel.leave(conn)
            conn.close()


class FailoverHTTP:
    """Several base URLs of one service, the same ``request`` as ``DeadlineHTTP``.

    Requests go to the URL in use. When it does not answer — connection refused or reset, nothing within
    ``connect_s`` (2 s), the request's deadline, a truncated answer — or answers 502/503/504, the same request
    goes to the next URL at once (each URL at most once per request) and later requests stay there until it
    fails in turn. Only for services whose requests are idempotent: the hubs deduplicate confirmations by
    (station, key) in their shared database, and claims, heartbeats and feed reads are repeatable, so a
    request that reached the failing hub and is sent again to the next one has its effect once.
    """

    def __init__(self, base_urls: Sequence[str], *, deadline_s: float = 10.0, connect_s: float = FAILOVER_CONNECT_S,
                 ca_file: str | None = None):
        if not base_urls:
            raise ValueError("at least one base URL is needed")
        problem = mixed_schemes(base_urls)
        if problem:
            raise ValueError(problem)
        self.targets = [DeadlineHTTP(url, deadline_s=deadline_s, connect_s=connect_s, ca_file=ca_file)
                        for url in base_urls]
        self.base_urls = [url.rstrip("/") for url in base_urls]
        self.deadline_s = deadline_s
        self.current = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> str:
        return self.base_urls[self.current]

    def close(self) -> None:
        for target in self.targets:
            target.close()

    def _failed(self, index: int, why: str) -> None:
        with self._lock:
            if self.current == index:
                self.current = (index + 1) % len(self.targets)
                log.warning("%s does not answer (%s); switching to %s", self.base_urls[index], why,
                            self.base_urls[self.current])

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                *, deadline_s: float | None = None, after_send: Callable[[], None] | None = None,
                cancel: Cancel | None = None) -> Response:
        first = self.current
        error: TransientUpstreamError | None = None
        for step in range(len(self.targets)):
            index = (first + step) % len(self.targets)
            try:
                resp = self.targets[index].request(method, path, body, headers, deadline_s=deadline_s,
                                                   after_send=after_send, cancel=cancel)
            except RequestCancelledError:
                raise  # the caller is stopping: not this hub's failure
            except TransientUpstreamError as exc:
                error = exc
                self._failed(index, str(exc))
                continue
            if resp.status in FAILOVER_STATUSES and step < len(self.targets) - 1:
                self._failed(index, f"HTTP {resp.status}")
                continue
            return resp
        assert error is not None
        raise error


    def stream(self, path: str, headers: dict[str, str] | None = None, *, idle_s: float,
               cancel: Cancel | None = None) -> Iterator[bytes]:
        """``DeadlineHTTP.stream`` on the URL in use; one that cannot be reached or answers 502/503/504 before
        its first line is failed over like a request. Once lines flow, a failure ends the stream (the caller
        opens it again, on the next URL)."""
        first = self.current
        error: TransientUpstreamError | None = None
        for step in range(len(self.targets)):
            index = (first + step) % len(self.targets)
            lines = self.targets[index].stream(path, headers, idle_s=idle_s, cancel=cancel)
            try:
                opening = next(lines)
            except StopIteration:
                return
            except RequestCancelledError:
                raise
            except TransientUpstreamError as exc:
                if exc.status is not None and exc.status not in FAILOVER_STATUSES:
                    raise
                error = exc
                self._failed(index, str(exc))
                continue
            yield opening
            try:
                yield from lines
            except TransientUpstreamError as exc:
                if not isinstance(exc, RequestCancelledError):
                    self._failed(index, str(exc))
                raise
            return
        assert error is not None
        raise error


def mixed_schemes(base_urls: Sequence[str]) -> str | None:
    """Why a list of one service's URLs may not be used together: https and http mixed (a request that failed over
    https must never go out in plain text), or None."""
    schemes = {urlsplit(url).scheme for url in base_urls}
    if {"http", "https"} <= schemes:
        return ("the URLs mix https and http: a request is never sent in plain HTTP after HTTPS failed"
                " (list only https URLs, or only http ones)")
    return None


def connect_http(base_urls: str | Sequence[str], *, deadline_s: float = 10.0,
                 ca_file: str | None = None) -> DeadlineHTTP | FailoverHTTP:
    """One URL: a ``DeadlineHTTP``; several: a ``FailoverHTTP`` over them (never https and http mixed). ``ca_file``:
    a site CA trusted besides the system's bundle."""
    urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
    if len(urls) == 1:
        return DeadlineHTTP(urls[0].rstrip("/"), deadline_s=deadline_s, ca_file=ca_file)
    return FailoverHTTP(urls, deadline_s=deadline_s, ca_file=ca_file)


class _Watchdog:
    """One daemon thread that shuts down the sockets of requests past their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, http.client.HTTPConnection, threading.Event]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the thread's wait ends by itself (monotonic)

    def arm(self, deadline: float, conn: http.client.HTTPConnection, fired: threading.Event) -> int:
        """Watch a request; the thread is woken only when this deadline comes before the end of its current wait
        (requests one after another, each with the same budget, never wake it: one wake-up per request was a
        context switch per relayed request)."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadline-watchdog", daemon=True)
                self._thread.start()
            self._next += 1
            self._armed[self._next] = (deadline, conn, fired)
            if deadline < self._wakes_at:
                self._wakes_at = deadline
                self._cond.notify()
            return self._next

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._armed:
                    remaining = self._wakes_at - time.monotonic()
                    if remaining > 0:  # keep the wait a request armed meanwhile was told of
                        self._cond.wait(remaining)
                    else:
                        self._wakes_at = math.inf
                        self._cond.wait()
                    continue
                token, (deadline, conn, fired) = min(self._armed.items(), key=lambda item: item[1][0])
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._wakes_at = deadline
                    self._cond.wait(remaining)
                    continue
                del self._armed[token]
                _abort(conn, fired)


_WATCHDOG = _Watchdog()


def _abort(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    fired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
