"""Load shedding: a station or a hub measures its own load, and above a threshold the work that can wait steps aside
so the scan path keeps its latency.

``LoadGauge.pct()`` is the machine's CPU in use, in percent of all its cores, over the last ``SAMPLE_S`` (the
``cpu`` line of ``/proc/stat``; elsewhere the 1-minute load average per core), read at most once per sample
period by whoever asks first (no thread of its own). ``shedding()`` is true from above ``threshold_pct`` until the
load falls ``HYSTERESIS_PCT`` below it (no flapping around the line). What steps aside while it is true:

* the station's packing video encodes one frame a second instead of ``video.fps`` (the clip keeps its timeline:
  the frame shown is held; ``Clip.shed`` counts the frames not encoded);
* the station's access report and the hub's charts answer later (the report: 503 with Retry-After; the dashboard
  shows its figures without the charts).

``/healthz`` (station and hub) shows the gauge: ``{"pct", "threshold_pct", "shedding", "since", "shed"}``.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

SAMPLE_S = 0.5
HYSTERESIS_PCT = 10.0

CpuReader = Callable[[], tuple[float, float] | None]  # (busy, total) jiffies since boot, or None


def proc_stat() -> tuple[float, float] | None:
    """Busy and total CPU time of the machine from ``/proc/stat`` (None where there is none)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


class LoadGauge:
    """``LoadGauge(threshold_pct)``: ``pct()``, ``shedding()``, ``status()``; ``shed(what)`` counts work put off."""

    def __init__(self, threshold_pct: float, *, reader: CpuReader = proc_stat,
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
        if current is not None and self._last is not None and current[1] > self._last[1]:
            self._pct = 100.0 * (current[0] - self._last[0]) / (current[1] - self._last[1])
        elif current is None:
            self._pct = 100.0 * os.getloadavg()[0] / (os.cpu_count() or 1) if hasattr(os, "getloadavg") else 0.0
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


__all__ = ["HYSTERESIS_PCT", "LoadGauge", "SAMPLE_S", "proc_stat"]
