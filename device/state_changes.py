"""Which device state reports deserve a line: one per change, then a summary while a problem lasts.

A reader reports every retry (``disconnected``, ``retrying``, ``disconnected``, …); a person wants one line when
the state changes and, while it stays a problem, one summary every ``summary_s`` seconds saying for how long and
how many reports came meanwhile. ``retrying`` and ``starting`` are steps of the reconnect loop, not changes: they
count as the state before them (as ``disconnected`` when they come first).

    changes = StateChanges(summary_s=30)
    note = changes.note(state)      # None: nothing to say; else a Note with kind "change" or "summary"

Invariants: pure (no I/O, no threads; time comes only from the injected monotonic clock); the first report is
always a change; no summary is due for a state that is no problem (``connected``); a summary resets the count.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

STEPS = ("retrying", "starting")  # steps of the reconnect loop: not a change of state
FINE = ("connected",)             # states that are no problem: no summary while they last


@dataclass(frozen=True)
class Note:
    kind: Literal["change", "summary"]
    state: str
    seconds: float  # since the state began
    reports: int    # reports since the last line, this one included


class StateChanges:
    def __init__(self, summary_s: float, monotonic: Callable[[], float] = time.monotonic):
        self.summary_s = summary_s
        self._monotonic = monotonic
        self.state: str | None = None
        self._since = self._said_at = 0.0
        self._reports = 0

    def note(self, reported: str) -> Note | None:
        now = self._monotonic()
        state = (self.state or "disconnected") if reported in STEPS else reported
        if state != self.state:
            self.state, self._since, self._said_at, self._reports = state, now, now, 0
            return Note("change", state, 0.0, 1)
        self._reports += 1
        if state in FINE or now - self._said_at < self.summary_s:
            return None
        reports, self._reports, self._said_at = self._reports, 0, now
        return Note("summary", state, now - self._since, reports)
