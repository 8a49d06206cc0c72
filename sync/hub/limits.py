"""How many long-polls and feed streams the hub keeps open, so that they can never take the threads confirmations
need.

Every open long-poll holds a server thread while it waits; a stream (``/v1/feed/stream``) is written by the
server's one ``StreamPump`` thread and holds none (under a server without the pump it holds one while it is open).
``LongPolls`` admits at most ``per_caller`` long-polls and streams at once per token (a station, or a supervisor's
session) and at most ``total`` of those that hold a thread (``site.threads`` less a quarter, at least 8, kept for
confirmations and the other short requests); one past a limit is answered 429 at once, not queued: a station's
feed follower backs off and asks again.
"""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator

from packgate.sync.errors import HubRequestError


def reserved_threads(threads: int) -> int:
    """Threads long-polls never take: a quarter of them, at least 8 (all of them when there are fewer)."""
    return min(threads, max(8, threads // 4))


class LongPolls:
    def __init__(self, per_caller: int, threads: int):
        self.per_caller = per_caller
        self.total = max(0, threads - reserved_threads(threads))
        self._open: Counter[str] = Counter()  # long-polls and streams, by caller
        self._threads: Counter[str] = Counter()  # those of them that hold a thread
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self._open.values())

    @property
    def holding_threads(self) -> int:
        """The open ones that hold a server thread (counted against ``total``)."""
        with self._lock:
            return sum(self._threads.values())

    @contextmanager
    def hold(self, caller: str) -> Iterator[None]:
        """One long-poll of ``caller`` for the duration of the block (429 past a limit)."""
        release = self.take(caller)
        try:
            yield
        finally:
            release()

    def take(self, caller: str, *, holds_thread: bool = True) -> Callable[[], None]:
        """One long-poll or stream of ``caller`` (429 past a limit) until the returned ``release`` is called (once;
        a second call does nothing). One that ``holds_thread`` not (a stream the server's pump writes) counts
        against the caller's share only."""
        with self._lock:
            if self._open[caller] >= self.per_caller:
                raise HubRequestError(f"{caller} has {self._open[caller]} long-polls or streams of the feed open already"
                                      " (at most"
                                      f" {self.per_caller} per token: feed.max_waits_per_station); try again shortly", 429)
            if holds_thread and sum(self._threads.values()) >= self.total:
                raise HubRequestError(f"the hub has {self.total} long-polls open (the rest of site.threads is kept for"
                                      " confirmations); try again shortly", 429)
            self._open[caller] += 1
            if holds_thread:
                self._threads[caller] += 1
        done = threading.Lock()

        def release() -> None:
            if not done.acquire(blocking=False):
                return
            with self._lock:
                for counts in (self._open, self._threads) if holds_thread else (self._open,):
                    counts[caller] -= 1
                    if counts[caller] <= 0:
                        del counts[caller]

        return release
