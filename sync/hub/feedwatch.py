"""The hub's feed to the stations: one in-memory tail, sealed into batches that are serialised once and shared.

* **The tail** holds the last ``tail`` changes, always a contiguous run of numbers (low, head], each as its
  number and its JSON, serialised once as it arrives (20,000 dicts in the tail made every full pass of Python's
  cycle collector 20-80 ms, a pause of every request at 200 stations; bytes and numbers are not walked). A commit
  of this hub hands its numbered rows to ``published`` (``Database.on_feed``, in commit order): appended at once when
  they continue the tail; after a gap (another hub's commit in between) the watcher's next pass reads the rows
  from the database.
* **Sealing.** The watcher (a ``Loop``) passes every ``seal_s``, or less often while so many followers wait that
  seals would wake more than ``STREAM_WAKES_PER_S`` of them a second: it reads the database's head (changes
  written by other hub processes) and seals every change since the last seal into batches of at most ``BATCH``
  changes, each serialised once: the JSON answer of a long-poll, and the same bytes as one server-sent event. So
  the feed costs one serialisation per batch and one write per follower per batch, however many commits the
  batch holds; a change waits at most one pass (plus the watcher's wake-up) before it leaves.
* **Followers.** A stream writes the shared frames from its cursor on and a comment after ``keepalive_s`` of
  silence: on the hub's server a ``FeedSource`` (``follow``) that the server's ``StreamPump`` pulls at every seal
  (``wake_on_seal``), holding no thread; elsewhere ``stream``, a generator in the request's own thread (a client
  that has gone fails its write and frees the thread). A long-poll
  (``answer`` with a wait) at the sealed head waits for the next seal; one whose cursor starts the latest sealed
  batch gets that batch's bytes; an older cursor gets everything sealed since (up to its limit). ``wait=0``
  answers every committed change, sealed or not (a station asking once sees its own change). A stream whose
  cursor lies inside a batch gets its own frame up to the sealed head, then the shared ones; a cursor older than
  the tail catches up from the database. Batches are contiguous, so no follower skips a change.
* ``stop()`` ends every wait and every stream at once.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, Callable, Iterator

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.common.loop import Loop
from packgate.sync.errors import StorageError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)
SEAL_S = 0.1
TAIL = 20000
BATCH = 500  # changes per sealed batch: the long-poll's default limit
KEEP_BATCHES = 512
STREAM_WAKES_PER_S = 1000  # followers a second that seals wake, at most (each wake takes Python's lock from the writer)
KEEPALIVE_S = 5.0  # a stream whose client has gone fails this write and frees its thread
CATCH_UP = 500  # changes per answer read from the database
PULL_BYTES = 256 * 1024  # a pumped stream's bytes per pull: a stream catching up leaves the others their turn
KEEPALIVE = b": keep-alive\n\n"
OPENING = b": packgate site feed\n\n"  # a stream's first bytes: the client knows it is open


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


Entry = tuple[int, bytes]  # a change: its number and its compact UTF-8 JSON


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_plain)  # one, not one per change


def entry(event: dict[str, Any]) -> Entry:
    return int(event["seq"]), _JSON.encode(event).encode()


def encode(entries: list[Entry], cursor: int, head: int) -> bytes:
    """The feed's answer: ``{"events", "cursor", "head"}`` (numbers as strings), compact UTF-8 JSON."""
    return b'{"events":[%s],"cursor":"%d","head":"%d"}' % (b",".join(text for _, text in entries), cursor, head)


def frame(body: bytes, cursor: int) -> bytes:
    """One server-sent event carrying ``body`` (compact JSON has no line breaks)."""
    return b"id: %d\nevent: changes\ndata: %s\n\n" % (cursor, body)


class Bell:
    """Rung once; every follower waiting on it wakes. Each waiter sleeps on a lock of its own, so the woken do not
    queue on one shared lock to leave their wait (as ``threading.Event``'s do, one after another)."""

    __slots__ = ("_guard", "_waiters")

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: list[Any] | None = []  # None once rung

    def wait(self, timeout: float) -> bool:
        """True when rung (before or within ``timeout`` seconds)."""
        with self._guard:
            if self._waiters is None:
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=max(0.0, timeout)):
            return True
        with self._guard:  # timed out: off the list (a bell nobody rings for hours must not grow)
            if self._waiters is None:
                return True  # rung meanwhile
            self._waiters.remove(waiter)
            return False

    def ring(self) -> None:
        with self._guard:
            waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            waiter.release()  # held since its wait began: released once, by the one ring


@dataclass(frozen=True)
class Batch:
    """Changes (low, high], serialised once."""

    low: int
    high: int
    size: int
    body: bytes
    frame: bytes


class FeedWatch(Loop[None]):
    def __init__(self, db: Database, *, seal_s: float = SEAL_S, tail: int = TAIL, clock: Clock | None = None,
                 keepalive_s: float = KEEPALIVE_S):
        super().__init__("hub-feed-watch", every_s=seal_s, clock=clock, run_at_start=False, logger=log,
                         what="feed watch (reading the database)", outage=(StorageError,),
                         failure_backoff=Backoff(base_s=seal_s, cap_s=1.0))  # followers rely on it: retry soon
        self.db, self.seal_s = db, seal_s
        self.keepalive_s = keepalive_s
        # Three locks that never wait for each other's holders: ``_tail_lock`` (the tail: the committing writer,
        # the watcher, answers read from the tail), ``_sealing`` (one seal at a time) and ``_counts`` (the
        # counters and the bell's replacement). Followers
        # read the sealed batches without a lock (one seal replaces ``_by_low`` and ``_sealed``, then rings) and
        # sleep on ``_bell``, a ``Bell`` replaced at every seal: a hundred followers waking never queue on a lock
        # the committing writer needs.
        self._tail_lock = threading.Lock()
        self._sealing = threading.Lock()
        self._counts = threading.Lock()
        self._bell = Bell()
        self._tail: deque[Entry] = deque(maxlen=tail)
        self._batches: deque[Batch] = deque()
        self._by_low: dict[int, Batch] = {}
        with db.read() as conn:
            self._head = store.feed_head(conn)  # the tail covers (low, head]
        self._sealed = self._head
        self.streams = 0  # open streams
        self._wakes: set[Callable[[], None]] = set()
        self.waiting = 0  # long-polls waiting
        self.sealed_batches = 0
        self.sealed_changes = 0
        db.on_feed = self.published

    @property
    def head(self) -> int:
        return self._head

    @property
    def sealed(self) -> int:
        return self._sealed

    def published(self, head: int, events: list[dict[str, Any]]) -> None:
        """A commit of this process numbered ``events`` up to ``head``."""
        with self._tail_lock:
            if events and events[0]["seq"] == self._head + 1:
                self._tail.extend(map(entry, events))
                self._head = head
            # else a gap: rows of another hub come first; the next pass reads them all from the database

    def wait_after(self, result: None) -> float:
        """``seal_s``, or longer while many followers wait: every seal writes a frame to each of them (200
        followers: a seal every 0.2 s). With a thread per stream, measured at 200 stations (bench-site): ingest p99
        150-265 ms in three runs of four against 129-726 ms at 0.1 s, propagation p99 about 210 ms against
        110-150 ms; with the stream pump, sealing every 0.1 s cost the load generator's stations 10-30 % more CPU
        (twice the frames to read) for no better ingest."""
        return max(self.seal_s, (self.streams + self.waiting) / STREAM_WAKES_PER_S)

    def poke(self) -> None:
        """Read the database and seal now (tests with a fake clock, and after a tick)."""
        self.run_once()

    def run_once(self) -> None:
        self.refresh()
        self.seal()

    def interrupt(self) -> None:
        self._ring()  # waiters and streams see ``stopping`` and end now

    def _ring(self) -> None:
        with self._counts:  # a seal and a stop ringing at once must not leave anyone on a bell nobody rings
            bell, self._bell = self._bell, Bell()
            wakes = list(self._wakes)
        bell.ring()
        for wake in wakes:
            wake()

    def refresh(self) -> None:
        """Append every row committed after the tail (from any hub), in order."""
        while True:
            since = self._head
            with self.db.read() as conn:
                rows = store.feed_since(conn, since, 5000)
            with self._tail_lock:
                if rows and self._head == since:
                    self._tail.extend(map(entry, rows))
                    self._head = rows[-1]["seq"]
            if len(rows) < 5000:
                return

    def seal(self) -> None:
        """Every change since the last seal, as batches serialised once; wakes every follower."""
        with self._sealing:
            with self._tail_lock:
                head, low = self._head, self._tail_low()
                events = list(islice(self._tail, max(0, self._sealed - low), None)) if head > self._sealed else []
            if not events:
                return
            batches = []
            for start in range(0, len(events), BATCH):
                chunk = events[start:start + BATCH]
                high = chunk[-1][0]
                body = encode(chunk, high, head)
                batches.append(Batch(chunk[0][0] - 1, high, len(chunk), body, frame(body, high)))
            kept = list(self._batches)[-(KEEP_BATCHES - len(batches)):] + batches if len(batches) < KEEP_BATCHES \
                else batches
            self._batches = deque(kept)
            self._by_low = {batch.low: batch for batch in kept}  # replaced whole: readers take no lock
            self._sealed = batches[-1].high
            self.sealed_batches += len(batches)
            self.sealed_changes += len(events)
            self._ring()

    def _tail_low(self) -> int:
        return self._tail[0][0] - 1 if self._tail else self._head

    def _from_tail(self, since: int, upto: int, limit: int) -> tuple[list[Entry], int] | None:
        """Changes (since, min(upto, since + limit)] and the head, or None when ``since`` is older than the tail."""
        with self._tail_lock:
            start = since - self._tail_low()
            if start < 0:
                return None
            return list(islice(self._tail, start, start + min(limit, upto - since))), self._head

    def _count(self, name: str, step: int) -> None:
        with self._counts:
            setattr(self, name, getattr(self, name) + step)

    # ---- long-polls -------------------------------------------------------------------------------
    def answer(self, since: int, wait_s: float, limit: int = BATCH) -> bytes:
        """The JSON answer: changes after ``since`` (at most ``limit``), waiting up to ``wait_s`` (real time,
        whatever the hub's clock) for the next sealed batch when there is none yet."""
        deadline = time.monotonic() + max(0.0, wait_s)
        self._count("waiting", 1)
        try:
            while True:
                bell = self._bell  # taken before looking: a seal after the look rings this one
                upto = self._sealed if wait_s > 0 else self._head
                if since < upto:
                    batch = self._by_low.get(since)
                    if wait_s > 0 and batch is not None and batch.high == upto and batch.size <= limit:
                        return batch.body  # the latest batch, as every follower that keeps up asks it
                    found = self._from_tail(since, upto, limit)
                    if found is None:
                        break
                    events, head = found
                    return encode(events, events[-1][0], head)
                if since < self._tail_low():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopping:
                    return encode([], min(since, self._head), self._head)
                bell.wait(remaining)
        finally:
            self._count("waiting", -1)
        events, head = self._from_database(since, limit)
        return encode(events, events[-1][0] if events else min(since, head), head)

    def _from_database(self, since: int, limit: int) -> tuple[list[Entry], int]:
        """A cursor older than the tail catches up from the database: (changes, head)."""
        with self.db.read() as conn:
            rows, head = store.feed_since(conn, since, limit), store.feed_head(conn)
        return [entry(row) for row in rows], head

    # ---- streams ----------------------------------------------------------------------------------
    def stream(self, since: int) -> Iterator[bytes]:
        """Server-sent events from ``since`` on, until ``stop()`` or the client goes (its write fails)."""
        self._count("streams", 1)
        try:
            yield OPENING
            cursor = since
            while not self.stopping:
                frames, cursor = self._next_frames(cursor)
                yield b"".join(frames) if frames else KEEPALIVE
        finally:
            self._count("streams", -1)

    def follow(self, since: int, on_close: Callable[[], None]) -> "FeedSource":
        """A stream from ``since`` on for the server's ``StreamPump`` (which ``wake_on_seal`` must name), counted
        among the open streams until it ends (``on_close`` is called then)."""
        self._count("streams", 1)
        return FeedSource(self, since, self._stopping, on_close)

    def wake_on_seal(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` after every seal and at ``stop()`` (once per distinct callable)."""
        with self._counts:
            self._wakes.add(wake)

    def _next_frames(self, cursor: int) -> tuple[list[bytes], int]:
        """The frames after ``cursor``, waiting up to ``keepalive_s`` for them."""
        deadline = time.monotonic() + self.keepalive_s
        while not self.stopping:
            bell = self._bell  # taken before looking: a seal after the look rings this one
            frames, cursor = self.frames_now(cursor)
            if frames:
                return frames, cursor
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            bell.wait(remaining)
        return [], cursor

    def frames_now(self, cursor: int) -> tuple[list[bytes], int]:
        """The frames after ``cursor`` up to the sealed head, without waiting (the shared ones where a batch starts
        at the cursor; a cursor older than the tail reads the database) and the cursor after them."""
        sealed, by_low = self._sealed, self._by_low
        if cursor >= sealed:
            return [], cursor
        frames = []
        batch = by_low.get(cursor)
        while batch is not None:
            frames.append(batch.frame)
            cursor = batch.high
            batch = by_low.get(cursor)
        if frames:
            return frames, cursor
        found = self._from_tail(cursor, sealed, BATCH)  # inside a batch: up to the next one
        events, head = found if found is not None else self._from_database(cursor, CATCH_UP)
        if not events:
            return [], cursor
        high = events[-1][0]
        return [frame(encode(events, high, head), high)], high


class FeedSource:
    """One stream of the feed, written by the server's ``StreamPump`` (``sync.common.pump.Source``): every pull
    hands over the frames sealed since the last (up to ``PULL_BYTES``, the rest at the next pull), and ends the
    stream once the feed's run it was opened in stops."""

    def __init__(self, feed: FeedWatch, cursor: int, stopping: threading.Event, on_close: Callable[[], None]):
        self.feed, self.cursor, self._stopping, self._on_close = feed, cursor, stopping, on_close
        self.keepalive_s = feed.keepalive_s

    def pull(self) -> bytes | None:
        if self._stopping.is_set():
            return None
        out: list[bytes] = []
        size = 0
        while size < PULL_BYTES:
            frames, self.cursor = self.feed.frames_now(self.cursor)
            if not frames:
                break
            out += frames
            size += sum(map(len, frames))
        return b"".join(out)

    def keepalive(self) -> bytes:
        return KEEPALIVE

    def closed(self) -> None:
        self.feed._count("streams", -1)
        self._on_close()
