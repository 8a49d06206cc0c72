"""One connection per thread, for readers whose threads come and go (the web server's pool, event streams).

A thread keeps its own connection (no hand-over between threads: measured faster for the station's view
reads under many concurrent PDAs than a shared pool), but the connections are all known: those of threads
that ended, or that have not read for ``idle_s``, are closed at the next ``get()`` of any thread, and
``close_all()`` closes every one on shutdown. So the number open follows the threads reading now, not every
thread that ever read."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

from packgate.sync.pool import close_quietly

T = TypeVar("T")


class PerThread(Generic[T]):
    def __init__(self, make: Callable[[], T], close: Callable[[T], None], *, idle_s: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._make, self._close = make, close
        self.idle_s = idle_s
        self._monotonic = monotonic
        self._guard = threading.Lock()
        self._held: dict[int, list] = {}  # thread ident -> [thread, item, last used, in use]
        self._closed = False

    @contextmanager
    def use(self) -> Iterator[T]:
        """This thread's item, marked in use (the reaper leaves it alone) until the block ends."""
        me = threading.current_thread()
        now = self._monotonic()
        with self._guard:
            entry = self._held.get(me.ident or 0)
            if entry is not None:
                entry[2], entry[3] = now, True
            gone = self._reap(now)
        for item in gone:
            close_quietly(self._close, item)
        if entry is None:
            entry = [me, self._make(), now, True]
            with self._guard:
                self._held[me.ident or 0] = entry
        try:
            yield entry[1]
        finally:
            with self._guard:
                entry[2], entry[3] = self._monotonic(), False
                shut = self._closed
            if shut:
                self._drop(me.ident or 0, entry)

    @property
    def open(self) -> int:
        return len(self._held)

    def close_all(self) -> None:
        with self._guard:
            self._closed = True
            idle = [(k, e) for k, e in self._held.items() if not e[3]]
            for k, _ in idle:
                del self._held[k]
        for _, entry in idle:
            close_quietly(self._close, entry[1])

    def _reap(self, now: float) -> list[T]:
        """Under the guard: take out the items of ended threads and of threads idle too long."""
        stale = [k for k, e in self._held.items()
                 if not e[3] and (not e[0].is_alive() or now - e[2] > self.idle_s)]
        return [self._held.pop(k)[1] for k in stale]

    def _drop(self, key: int, entry: list) -> None:
        with self._guard:
            if self._held.get(key) is entry:
                del self._held[key]
        close_quietly(self._close, entry[1])
