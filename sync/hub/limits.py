"""How many long-polls and feed streams the hub keeps open, so that they can never take the threads confirmations
need.

Every open long-poll holds a server thread while it waits, every open stream (``/v1/feed/stream``) while it is
open; both count here alike (a "long-poll" below). ``LongPolls`` admits at most ``per_caller`` at once per
token (a station, or a supervisor's session) and ``total`` in all (``site.threads`` less a quarter, at least 8,
kept for confirmations and the other short requests); one past a limit is answered 429 at once, not queued: a
station's feed follower backs off and asks again.
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
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self._open.values())

    @contextmanager
    def hold(self, caller: str) -> Iterator[None]:
        """One long-poll of ``caller`` for the duration of the block (429 past a limit)."""
        release = self.take(caller)
        try:
            yield
        finally:
            release()

    def take(self, caller: str) -> Callable[[], None]:
        """One long-poll or stream of ``caller`` (429 past a limit) until the returned ``release`` is called (once;
        a second call does nothing)."""
        with self._lock:
            if self._open[caller] >= self.per_caller:
                raise HubRequestError(f"{caller} has {self._open[caller]} long-polls or streams of the feed open already"
                                      " (at most"
                                      f" {self.per_caller} per token: feed.max_waits_per_station); try again shortly", 429)
            if sum(self._open.values()) >= self.total:
                raise HubRequestError(f"the hub has {self.total} long-polls and streams open (the rest of site.threads is kept for"
                                      " confirmations); try again shortly", 429)
            self._open[caller] += 1
        done = threading.Lock()

        def release() -> None:
            if not done.acquire(blocking=False):
                return
            with self._lock:
                self._open[caller] -= 1
                if self._open[caller] <= 0:
                    del self._open[caller]

        return release
