"""A few reusable connections (database or HTTP) shared by however many threads use them.

The web server runs a thread per open connection (an event stream holds one), so a connection per
thread would keep a hundred or more database files and sockets open; a process near 1,024 descriptors
breaks everything that still uses ``select()`` (pyserial does). A pool keeps at most ``keep`` idle,
opens more only while more are in use at once, and closes every one on shutdown."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def close_quietly(close: Callable[[T], None], item: T) -> None:
    """Close ``item``; one that fails to close is gone either way (and must not keep the rest open)."""
    try:
        close(item)
    except Exception:  # noqa: BLE001
        pass


class Pool(Generic[T]):
    def __init__(self, make: Callable[[], T], close: Callable[[T], None], *, keep: int = 4,
                 max_idle_s: float | None = None, monotonic: Callable[[], float] = time.monotonic):
        self._make = make
        self._close = close
        self.keep = keep
        self.max_idle_s = max_idle_s  # an idle one older than this is closed, not reused (a server may have dropped it)
        self._monotonic = monotonic
        self._idle: list[tuple[float, T]] = []
        self._guard = threading.Lock()
        self._closed = False

    def take(self) -> T:
        stale: list[T] = []
        item: T | None = None
        with self._guard:
            while self._idle:
                since, candidate = self._idle.pop()
                if self.max_idle_s is not None and self._monotonic() - since > self.max_idle_s:
                    stale.append(candidate)
                    continue
                item = candidate
                break
        for old in stale:
            self.discard(old)
        return self._make() if item is None else item

    def give(self, item: T) -> None:
        """Back for reuse; closed instead when the pool is full or shut."""
        with self._guard:
            if not self._closed and len(self._idle) < self.keep:
                self._idle.append((self._monotonic(), item))
                return
        self.discard(item)

    def discard(self, item: T) -> None:
        close_quietly(self._close, item)

    @contextmanager
    def lease(self) -> Iterator[T]:
        item = self.take()
        try:
            yield item
        finally:
            self.give(item)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def close_all(self) -> None:
        """Close the idle ones now and each one in use when it is given back."""
        with self._guard:
            self._closed = True
            items = [item for _, item in self._idle]
            self._idle.clear()
        for item in items:
            self.discard(item)
