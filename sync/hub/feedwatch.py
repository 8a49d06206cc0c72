"""The hub's long-polls: one in-memory copy of the feed's tail, filled once per commit, shared by every waiter.

Before, every commit woke every long-poll and each re-read the database (100 waiters x 200 commits/s).
Now a commit of this hub hands its numbered rows to ``published`` (``Database.on_feed``): when they
continue the tail they are appended at once, otherwise (a row committed by another hub in between) the
watcher (a ``Loop`` on the real clock, whatever the hub's) reads the missing rows from the database, once.
The watcher also reads the head every ``POLL_S`` so changes written by other hub processes reach this hub's
waiters within that time; ``stop()`` answers every waiter at once (no events). Waiters
whose cursor lies in the tail are answered from memory; older cursors (a station catching up) read the
database. The tail only ever holds a contiguous run of numbers, so a waiter never skips a change.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from packgate.device.backoff import Backoff
from packgate.sync.common.loop import Loop
from packgate.sync.errors import StorageError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)
POLL_S = 0.1
TAIL = 20000


class FeedWatch(Loop[None]):
    def __init__(self, db: Database, *, poll_s: float = POLL_S, tail: int = TAIL):
        super().__init__("hub-feed-watch", every_s=poll_s, run_at_start=False, logger=log,
                         what="feed watch (reading the database)", outage=(StorageError,),
                         failure_backoff=Backoff(base_s=poll_s, cap_s=1.0))  # waiters rely on it: retry soon
        self.db, self.poll_s = db, poll_s
        self._cond = threading.Condition()
        self._tail: deque[dict[str, Any]] = deque(maxlen=tail)
        with db.read() as conn:
            self._head = store.feed_head(conn)  # the tail covers (low, head]
        db.on_feed = self.published

    @property
    def head(self) -> int:
        return self._head

    def published(self, head: int, events: list[dict[str, Any]]) -> None:
        """A commit of this process numbered ``events`` up to ``head``."""
        with self._cond:
            if events and events[0]["seq"] == self._head + 1:
                self._tail.extend(events)
                self._head = head
                self._cond.notify_all()
                return
        self.wake()  # a gap: rows of another hub (or a commit racing ours) come from the database

    def poke(self) -> None:
        """Read the database now (tests with a fake clock, and after start)."""
        self.refresh()

    def run_once(self) -> None:
        self.refresh()

    def interrupt(self) -> None:
        with self._cond:
            self._cond.notify_all()  # waiters see ``stopping`` and answer now

    def refresh(self) -> None:
        """Append every row committed after the tail (from any hub), in order."""
        while True:
            with self._cond:
                since = self._head
            with self.db.read() as conn:
                rows = store.feed_since(conn, since, 5000)
            with self._cond:
                if rows and self._head == since:
                    self._tail.extend(rows)
                    self._head = rows[-1]["seq"]
                    self._cond.notify_all()
            if len(rows) < 5000:
                return

    def wait(self, since: int, wait_s: float, limit: int = 500) -> dict[str, Any]:
        """Changes after ``since`` (at most ``limit``), waiting up to ``wait_s`` for the first one."""
        deadline = time.monotonic() + max(0.0, wait_s)  # a request's own wait is real time, whatever the clock
        with self._cond:
            while True:
                head = self._head
                low = self._tail[0]["seq"] - 1 if self._tail else head
                if since < head and since >= low:
                    start = since - low
                    events = [self._tail[i] for i in range(start, min(len(self._tail), start + limit))]
                    return {"events": events, "cursor": str(events[-1]["seq"]), "head": str(head)}
                if since < low:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopping:
                    return {"events": [], "cursor": str(min(since, head)), "head": str(head)}
                self._cond.wait(remaining)
        with self.db.read() as conn:  # a cursor older than the tail: catch up from the database
            events = store.feed_since(conn, since, limit)
            head = store.feed_head(conn)
        cursor = events[-1]["seq"] if events else min(since, head)
        return {"events": events, "cursor": str(cursor), "head": str(head)}
