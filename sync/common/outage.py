"""Logging an outage by its changes of state, not by its failures.

A database that is down fails every request and every background pass, twenty times a second; logging each (with a
traceback) buries the one line that matters. ``OutageLog(what, logger)`` writes one line when failures start, one
line when the cause changes, a summary every ``summary_s`` while they go on ("still failing: 1,203 refused in the
last 60 s"), and one line when the thing works again ("recovered after 25 s, 1,480 refused"). It also answers, for a
health check, whether the thing is failing now, since when and why.

Invariants: thread-safe; ``failed`` never raises and never logs a traceback; durations are on the clock's monotonic
time, the "since" shown is its wall time.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from packgate.device.clock import Clock, isoformat

SUMMARY_S = 60.0


class OutageLog:
    def __init__(self, what: str, logger: logging.Logger, *, clock: Clock | None = None, summary_s: float = SUMMARY_S):
        self.what, self.log, self.summary_s = what, logger, summary_s
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic start of the current outage
        self._since_wall: datetime | None = None
        self._cause: str | None = None
        self._last_error: str | None = None
        self._total = 0
        self._window = 0
        self._summary_at = 0.0

    @property
    def failing(self) -> bool:
        return self._since is not None

    def status(self) -> dict[str, object] | None:
        """The outage now: since (ISO 8601), failures, last error; None while things work."""
        with self._lock:
            if self._since is None:
                return None
            return {"since": isoformat(self._since_wall) if self._since_wall else None, "failures": self._total,
                    "last_error": self._last_error,
                    "for_s": round(self.clock.monotonic() - self._since, 1)}

    def failed(self, error: str, cause: str | None = None) -> None:
        """One failure; ``cause`` (e.g. the exception's type) tells a new kind of failure from the same one again."""
        cause = cause or error.split(":", 1)[0]
        now = self.clock.monotonic()
        line: tuple[str, tuple[object, ...]] | None = None
        with self._lock:
            self._last_error = error
            if self._since is None:
                self._since, self._since_wall, self._cause = now, self.clock.now(), cause
                self._total = self._window = 1
                self._summary_at = now
                line = ("%s failing: %s", (self.what, error))
            else:
                self._total += 1
                self._window += 1
                if cause != self._cause:
                    self._cause = cause
                    line = ("%s failing differently: %s", (self.what, error))
                elif now - self._summary_at >= self.summary_s:
                    line = ("%s still failing after %.0f s: %d failure(s) in the last %.0f s; the last: %s",
                            (self.what, now - self._since, self._window, now - self._summary_at, error))
                    self._window, self._summary_at = 0, now
        if line is not None:
            self.log.warning(line[0], *line[1])

    def ok(self) -> None:
        """It worked: ends the outage (one line) if there was one."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            lasted, total = self.clock.monotonic() - self._since, self._total
            self._since = self._since_wall = self._cause = self._last_error = None
            self._total = self._window = 0
        self.log.warning("%s recovered after %.0f s (%d failure(s) in all)", self.what, lasted, total)
