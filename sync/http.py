"""A small HTTP/1.1 client with an overall deadline per request.

``requests``' timeout is per socket read: a body drip-fed one byte every 0.3 s never trips it.
Here a watchdog thread shuts the socket down when the deadline passes, whatever phase the
request is in (connect, send, headers, body), and the body is read in chunks against the clock.
Connections are kept alive per thread and dropped after any error or a long idle.
"""
from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from packgate.sync.errors import BadResponseError, DeadlineExceededError, TransientUpstreamError

MAX_BODY = 64 * 1024 * 1024
IDLE_REUSE_S = 4.0


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


class DeadlineHTTP:
    def __init__(self, base_url: str, *, deadline_s: float = 10.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL {base_url!r} must be http(s)://host[:port][/prefix]")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.deadline_s = deadline_s
        self._local = threading.local()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                *, deadline_s: float | None = None, after_send: Callable[[], None] | None = None) -> Response:
        budget = self.deadline_s if deadline_s is None else deadline_s
        start = time.monotonic()
        deadline = start + budget
        conn = self._connection(budget)
        fired = threading.Event()
        token = _WATCHDOG.arm(deadline, conn, fired)
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers or {})
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
                self.close()
            else:
                self._local.used = time.monotonic()
            return result
        except TransientUpstreamError:
            self.close()
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.close()
            if fired.is_set() or time.monotonic() >= deadline:
                raise DeadlineExceededError(f"{method} {path}: not complete within {budget:g} s ({exc!r})") from exc
            if isinstance(exc, http.client.IncompleteRead):
                raise BadResponseError(f"{method} {path}: truncated body ({exc!r})") from exc
            raise TransientUpstreamError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        finally:
            _WATCHDOG.disarm(token)

    def _connection(self, budget: float) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and time.monotonic() - getattr(self._local, "used", 0.0) > IDLE_REUSE_S:
            self.close()
            conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=budget)
            self._local.conn = conn
        else:
            conn.timeout = budget
            if conn.sock is not None:
                conn.sock.settimeout(budget)
        return conn


class _Watchdog:
    """One daemon thread that shuts down the sockets of requests past their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, http.client.HTTPConnection, threading.Event]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, conn: http.client.HTTPConnection, fired: threading.Event) -> int:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadline-watchdog", daemon=True)
                self._thread.start()
            self._next += 1
            earliest = min((d for d, _, _ in self._armed.values()), default=None)
            self._armed[self._next] = (deadline, conn, fired)
            if earliest is None or deadline < earliest:
                self._cond.notify()
            return self._next

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._armed:
                    self._cond.wait()
                    continue
                token, (deadline, conn, fired) = min(self._armed.items(), key=lambda item: item[1][0])
                remaining = deadline - time.monotonic()
                if remaining > 0:
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
