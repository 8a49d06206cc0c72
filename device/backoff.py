"""Exponential backoff with full jitter (AWS style), for every retry in packgate: reopening a device port
and re-sending to upstream alike.

After ``n`` failed attempts the wait is uniform in ``[0, min(cap_s, base_s * factor**(n-1))]`` (or exactly
that ceiling with ``jitter=False``), at least a server's Retry-After (capped at ``retry_after_cap_s``).
The random source is injectable so tests are deterministic. ``next_delay`` / ``wait`` / ``reset`` keep
the count for a reader thread; ``delay(attempts, …)`` is the stateless form for a queue that stores its
own attempt counts.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

Sleep = Callable[[float, "threading.Event | None"], bool]


class Random(Protocol):
    def random(self) -> float: ...


@dataclass
class Backoff:
    base_s: float = 1.0
    cap_s: float = 300.0
    factor: float = 2.0
    jitter: bool = True
    retry_after_cap_s: float = 900.0
    rand: Callable[[], float] = random.random
    sleep: Sleep | None = None
    attempt: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0 or self.factor < 1:
            raise ValueError("backoff needs base_s >= 0, cap_s >= 0, factor >= 1")

    def ceiling(self, attempts: int) -> float:
        """The upper bound of the wait after ``attempts`` failed attempts (>= 1)."""
        exponent = max(0, min(attempts, 64) - 1)
        return min(self.cap_s, self.base_s * (self.factor ** exponent))

    def delay(self, attempts: int, rng: Random | None = None, retry_after_s: float | None = None) -> float:
        ceiling = self.ceiling(attempts)
        wait = ceiling * (rng.random() if rng is not None else self.rand()) if self.jitter else ceiling
        if retry_after_s is not None:
            wait = max(wait, min(max(0.0, retry_after_s), self.retry_after_cap_s))
        return wait

    def next_delay(self) -> float:
        self.attempt += 1
        return self.delay(self.attempt)

    def reset(self) -> None:
        self.attempt = 0

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Sleep the next delay; True if ``stop`` was set meanwhile."""
        delay = self.next_delay()
        if self.sleep is not None:
            return bool(self.sleep(delay, stop))
        if stop is None:
            threading.Event().wait(delay)
            return False
        return stop.wait(delay)
