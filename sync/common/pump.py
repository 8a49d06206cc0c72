"""One thread writes every open stream of the server (server-sent events), so that an open stream holds a socket
and a few bytes of state, never a thread.

A request handler that streams hands its connection over once the response's head has left (``webserver``'s
``packgate.detach``); from then on ``StreamPump`` owns it:

* **Woken, it pulls every stream.** ``wake()`` (thread-safe; the feed calls it at every seal) makes the loop ask
  each stream's ``Source.pull()`` for what to send now and write it without blocking: a seal that reaches 200
  stations is one thread writing 200 sockets, not 200 threads each woken to write one (at 200 stations those
  wake-ups were half of the hub's CPU and competed with its writer for Python's lock).
* **Nothing blocks it.** Writes are non-blocking; what a socket does not take waits in the stream's buffer and
  leaves when the socket is writable. A client that takes nothing for ``stall_s`` while bytes wait, or lets more
  than ``max_buffer`` bytes pile up, is closed (it reconnects from its last event id).
* **Silence is broken.** A stream that sent nothing for ``Source.keepalive_s`` gets ``Source.keepalive()``: a client
  that has gone fails that write (or its socket reads as closed at once) and the stream ends.
* **Every stream ends once**: when its ``pull()`` says so (None), its client goes, or ``stop()``; then the
  response's last chunk is written (best effort), the connection is closed and ``Source.closed()`` called.
* Framing follows the response's head: HTTP/1.1 chunks when the head said ``Transfer-Encoding: chunked``, the
  bytes as they are otherwise. On TLS a write the socket could not take is retried with the same bytes.
"""
from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)
WRITE_CHUNK = 256 * 1024
MAX_BUFFER = 8 * 1024 * 1024
STALL_S = 10.0
TICK_S = 0.5  # the loop looks at keep-alives and stalls at least this often


class Source(Protocol):
    """What a stream sends."""

    keepalive_s: float

    def pull(self) -> bytes | None:
        """The bytes to send now (``b""``: nothing yet), or None once the stream is over. Never blocks."""

    def keepalive(self) -> bytes:
        """Bytes that change nothing for the client (an SSE comment), sent after ``keepalive_s`` of silence."""

    def closed(self) -> None:
        """The stream has ended (called once, from the pump's thread)."""


@dataclass(eq=False)
class _Stream:
    conn: Any  # cheroot's HTTPConnection: ``socket`` and ``close()``
    source: Source
    chunked: bool
    out: bytearray = field(default_factory=bytearray)
    retry: int = 0  # TLS: the length of a write the socket refused, to be offered again as it was
    sent_at: float = 0.0  # when bytes last left (monotonic)
    waiting_since: float | None = None  # when bytes began waiting for a socket that would not take them
    writing: bool = False  # registered for EVENT_WRITE too

    @property
    def sock(self) -> socket.socket:
        return self.conn.socket


class StreamPump:
    def __init__(self, *, stall_s: float = STALL_S, max_buffer: int = MAX_BUFFER, name: str = "packgate-streams"):
        self.stall_s, self.max_buffer, self.name = stall_s, max_buffer, name
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, data=None)
        self._lock = threading.Lock()
        self._adopted: list[_Stream] = []
        self._pull = False
        self._stopping = False
        self._streams: set[_Stream] = set()
        self._thread: threading.Thread | None = None

    @property
    def open(self) -> int:
        with self._lock:
            return len(self._streams) + len(self._adopted)

    def start(self) -> "StreamPump":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def adopt(self, conn: Any, source: Source, *, chunked: bool) -> None:
        """From now on the pump writes ``conn`` (whose response's head has left); thread-safe."""
        stream = _Stream(conn, source, chunked, sent_at=time.monotonic())
        with self._lock:
            stopped = self._stopping
            if not stopped:
                self._adopted.append(stream)
        if stopped:
            self._end(stream, clean=True)  # the server is stopping: ended as the open ones are
            return
        self.wake()

    def wake(self) -> None:
        """Pull every stream now (thread-safe, cheap: one byte down a socket pair when the loop was asleep)."""
        with self._lock:
            if self._pull:
                return
            self._pull = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the pair is full: the loop is awake already

    def stop(self, timeout: float = 5.0) -> None:
        """End every stream (their last chunk written, best effort) and the thread."""
        with self._lock:
            self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self._end_all()
        for closable in (self._selector, self._wake_r, self._wake_w):
            closable.close()

    # ---- the loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    stopping = self._stopping
                if stopping:
                    break
                try:
                    ready = self._selector.select(timeout=self._timeout())
                except OSError:
                    ready = []
                for key, events in ready:
                    stream = key.data
                    if stream is None:
                        self._drain_wake()
                        continue
                    if stream.conn is not None and events & selectors.EVENT_READ:
                        self._readable(stream)
                    if stream.conn is not None and events & selectors.EVENT_WRITE:
                        self._flush(stream)
                self._take_adopted()
                with self._lock:
                    pull, self._pull = self._pull, False
                if pull:
                    for stream in list(self._streams):
                        self._send(stream)
                self._tend(time.monotonic())
        except Exception:  # a fault of the pump itself: every stream ends (clients reconnect) and a new loop starts
            log.exception("the stream pump failed; every open stream is closed and the pump starts again")
            self._end_all(stopping=False)
            time.sleep(0.5)  # a fault that comes back at once does not spin
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            return
        self._end_all()

    def _timeout(self) -> float:
        now = time.monotonic()
        due = TICK_S
        for stream in self._streams:
            due = min(due, stream.sent_at + stream.source.keepalive_s - now)
        return max(0.0, due)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _take_adopted(self) -> None:
        with self._lock:
            adopted, self._adopted = self._adopted, []
        for stream in adopted:
            try:
                stream.sock.setblocking(False)
                self._selector.register(stream.sock, selectors.EVENT_READ, data=stream)
            except (OSError, ValueError, KeyError):
                self._end(stream, clean=False)
                continue
            self._streams.add(stream)
            self._send(stream)

    def _readable(self, stream: _Stream) -> None:
        """Read what a client sent on its stream (nothing is expected: discarded); its end ends the stream."""
        try:
            data = stream.sock.recv(65536)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            data = b""
        if not data:
            self._end(stream, clean=False)

    def _send(self, stream: _Stream) -> None:
        """What the stream's source has now, written as far as the socket takes it."""
        try:
            data = stream.source.pull()
        except Exception as exc:  # noqa: BLE001 - this stream's source failed (its database read): it ends alone
            log.warning("a stream's source failed (%s: %s); the stream is closed, its client reconnects",
                        type(exc).__name__, exc)
            self._end(stream, clean=False)
            return
        if data is None:
            self._end(stream, clean=True)
            return
        self._queue(stream, data)
        self._flush(stream)

    def _queue(self, stream: _Stream, data: bytes) -> None:
        if not data:
            return
        if stream.chunked:
            stream.out += b"%x\r\n" % len(data)
            stream.out += data
            stream.out += b"\r\n"
        else:
            stream.out += data

    def _flush(self, stream: _Stream) -> None:
        while stream.out:
            size = stream.retry or min(len(stream.out), WRITE_CHUNK)
            try:
                sent = stream.sock.send(bytes(stream.out[:size]))  # TLS: a retry offers the same bytes again
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                stream.retry = size if isinstance(stream.sock, ssl.SSLSocket) else 0
                break
            except OSError:
                self._end(stream, clean=False)
                return
            stream.retry = 0
            del stream.out[:sent]
            stream.sent_at = time.monotonic()
            stream.waiting_since = None
        if stream.out:
            if stream.waiting_since is None:
                stream.waiting_since = time.monotonic()
            if len(stream.out) > self.max_buffer:
                log.info("a stream's client read nothing while %d bytes waited: closed", len(stream.out))
                self._end(stream, clean=False)
                return
        self._watch(stream, write=bool(stream.out))

    def _watch(self, stream: _Stream, *, write: bool) -> None:
        if write == stream.writing:
            return
        try:
            self._selector.modify(stream.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0),
                                  data=stream)
            stream.writing = write
        except (OSError, ValueError, KeyError):
            self._end(stream, clean=False)

    def _tend(self, now: float) -> None:
        """Keep-alives for the silent, an end for the stalled."""
        for stream in list(self._streams):
            if stream.out:
                if stream.waiting_since is not None and now - stream.waiting_since > self.stall_s:
                    log.info("a stream's client took nothing for %.0f s: closed", self.stall_s)
                    self._end(stream, clean=False)
            elif now - stream.sent_at >= stream.source.keepalive_s:
                self._queue(stream, stream.source.keepalive())
                self._flush(stream)

    def _end(self, stream: _Stream, *, clean: bool) -> None:
        if stream.conn is None:
            return  # ended already
        self._streams.discard(stream)
        try:
            self._selector.unregister(stream.sock)
        except (OSError, ValueError, KeyError):
            pass
        if clean and stream.chunked:
            stream.out += b"0\r\n\r\n"
        if clean and stream.out and not stream.retry:
            try:
                stream.sock.send(bytes(stream.out))  # the last bytes, if the socket takes them now
            except OSError:
                pass
        conn, stream.conn = stream.conn, None
        _close(conn)
        try:
            stream.source.closed()
        except Exception:
            log.exception("a stream's close failed")

    def _end_all(self, *, stopping: bool = True) -> None:
        with self._lock:
            self._stopping = self._stopping or stopping
            adopted, self._adopted = self._adopted, []
        for stream in adopted:
            self._streams.add(stream)
        for stream in list(self._streams):
            self._end(stream, clean=True)


def _close(conn: Any) -> None:
    try:
        conn.close()
    except OSError:
        pass


__all__ = ["Source", "StreamPump"]
