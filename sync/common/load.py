"""Load shedding: a station or a hub measures its own load, and above a threshold the work that can wait steps aside
so the scan path keeps its latency.

``LoadGauge.pct()`` is the process's own load: the CPU time all its threads used (the scan path, the web server,
the video encoder's native threads) over the last ``SAMPLE_S`` of wall time, in percent of one core (capped at 100:
a station or hub busy for a whole core has no room left for its scan path). Its own, not the machine's: another
program on the PC does not make it shed. Read at most once per sample period by whoever asks first (no thread of
its own). ``shedding()`` is true from above ``threshold_pct`` until the
load falls ``HYSTERESIS_PCT`` below it (no flapping around the line). What steps aside while it is true:

* the station's packing video encodes one frame a second instead of ``video.fps`` (the clip keeps its timeline:
  the frame shown is held; ``Clip.shed`` counts the frames not encoded);
* the station's access report waits up to 3 s for the load to fall before it is built; the hub's dashboard shows
  its charts as last drawn (not drawn again) beside current figures.

``/healthz`` (station and hub) shows the gauge: ``{"pct", "threshold_pct", "shedding", "since", "shed"}``.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

SAMPLE_S = 0.5
HYSTERESIS_PCT = 10.0

CpuReader = Callable[[], tuple[float, float]]  # (CPU seconds used, wall seconds), both counting up


def own_cpu() -> tuple[float, float]:
    """The CPU seconds this process used (all threads, user and system) and a monotonic wall clock."""
    times = os.times()
    return times.user + times.system, time.monotonic()


class LoadGauge:
    """``LoadGauge(threshold_pct)``: ``pct()``, ``shedding()``, ``status()``; ``shed(what)`` counts work put off."""

    def __init__(self, threshold_pct: float, *, reader: CpuReader = own_cpu,
                 monotonic: Callable[[], float] = time.monotonic, sample_s: float = SAMPLE_S):
        self.threshold_pct = threshold_pct
        self.reader, self.monotonic, self.sample_s = reader, monotonic, sample_s
        self._lock = threading.Lock()
        self._last = reader()
        self._at = monotonic()
        self._pct = 0.0
        self._shedding = False
        self._since: float | None = None
        self.counts: dict[str, int] = {}

    def pct(self) -> float:
        now = self.monotonic()
        if now - self._at < self.sample_s:
            return self._pct
        with self._lock:
            if now - self._at >= self.sample_s:
                self._sample(now)
            return self._pct

    def _sample(self, now: float) -> None:
        current = self.reader()
        if current[1] > self._last[1]:
            self._pct = min(100.0, 100.0 * (current[0] - self._last[0]) / (current[1] - self._last[1]))
        self._last, self._at = current, now
        if not self._shedding and self._pct > self.threshold_pct:
            self._shedding, self._since = True, now
        elif self._shedding and self._pct < self.threshold_pct - HYSTERESIS_PCT:
            self._shedding, self._since = False, None

    def shedding(self) -> bool:
        self.pct()
        return self._shedding

    def shed(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def status(self) -> dict[str, object]:
        pct = self.pct()
        return {"pct": round(pct, 1), "threshold_pct": self.threshold_pct, "shedding": self._shedding,
                "shedding_for_s": round(self.monotonic() - self._since, 1) if self._since is not None else None,
                "shed": dict(self.counts)}


__all__ = ["HYSTERESIS_PCT", "LoadGauge", "SAMPLE_S", "own_cpu"]
