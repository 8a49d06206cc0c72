"""Wall time with UTC offset and a monotonic clock, injectable for tests.

Everything that waits (backoff, timeouts, escalations) takes a ``Clock`` so
tests can drive hours of time in milliseconds with ``FakeClock``.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

_last: tuple[datetime, str] | None = None  # the moment formatted last (a write stamps one moment many times)


def isoformat(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit UTC offset, e.g. 2026-02-22T03:15:16.320+08:00."""
    global _last
    last = _last
    if last is not None and last[0] is moment:  # held by ``_last``: its identity cannot pass to another object
        return last[1]
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: every timestamp needs a UTC offset")
    text = moment.isoformat(timespec="milliseconds")
    _last = (moment, text)
    return text


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601; a value without an offset is refused rather than guessed."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return moment


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).astimezone()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Sleep, waking early when ``stop`` is set. Returns True if stopped."""
        if stop is None:
            time.sleep(max(0.0, seconds))
            return False
        return stop.wait(max(0.0, seconds))


class FakeClock(Clock):
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=8)))
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return True
        self.advance(max(0.0, seconds))
        return bool(stop and stop.is_set())
