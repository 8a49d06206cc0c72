"""What the station's collaborators share: its settings, clock, connection and lock, reference data,
delivery, and ``Live``, the one snapshot of what the station knows right now.

``Station`` (service.py) builds one ``Parts`` and hands it to the PDA desk, the timers and the views;
each of them changes ``Live`` only under ``Parts.lock``.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Callable, Protocol

from packgate.device.clock import Clock
from packgate.device.scale.reading import Reading
from packgate.device.scanner.barcode import SitePatterns
from packgate.station.core import escalation as esc_rules
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station.core.catalog import StationCatalog
from packgate.station.core.models import LotPolicy
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.events import EventBus
from packgate.station.ports import Outbox
from packgate.sync.common.load import LoadGauge

KIOSK = "kiosk"


class Settings(Protocol):
    """The station's settings by dotted key (``packgate.station.runtime.config.Config``)."""

    def __getitem__(self, key: str) -> Any: ...


def site_patterns(cfg: Settings) -> SitePatterns:
    """The site's own barcodes from ``codes.*`` (an empty pattern switches that kind off)."""
    return SitePatterns(**{f.name: cfg[f"codes.{f.name}"] or None for f in fields(SitePatterns) if f.init})


@dataclass
class Scale:
    """The scale as the station sees it: the last reading, whether the scale is connected, and whether it is
    still talking. A reading counts only while it is fresh: once the scale has sent nothing for ``fresh_s``
    (a polled scale missing its answers, a streaming one gone quiet) it is "not responding" and its last
    reading is no longer shown or used."""

    connected: bool = False
    reading: Reading | None = None
    at: float | None = None  # monotonic: the last reading, or when the scale connected
    fresh_s: float = 2.0
    monotonic: Callable[[], float] = time.monotonic

    def heard(self, reading: Reading | None = None) -> None:
        self.connected, self.at = True, self.monotonic()
        if reading is not None:
            self.reading = reading

    def responding(self) -> bool:
        return self.connected and self.at is not None and self.monotonic() - self.at <= self.fresh_s

    def fresh(self) -> Reading | None:
        """The last reading while the scale is responding, else None."""
        return self.reading if self.responding() else None

    def problem(self) -> str | None:
        if self.connected and not self.responding():
            return f"scale not responding: no reading for more than {self.fresh_s:g} s"
        return None

    def view(self) -> dict[str, Any]:
        responding = self.responding()
        shown = self.reading.as_dict() if self.reading is not None and responding else \
            {"status": None, "stable": False, "weight": None, "unit": None, "grams": None}
        shown.pop("raw", None)
        return {"connected": self.connected, "responding": responding,
                "state": "not_responding" if self.connected and not responding else
                ("connected" if self.connected else "disconnected"), **shown}


@dataclass
class Live:
    """What the station knows right now (changed only under ``Parts.lock``)."""

    pack: pk.PackSession
    picks: dict[str, pick.PickSession]
    override_reason: str | None = None  # a supervisor's reason waiting for their badge
    override_at: float | None = None  # when it was entered (monotonic)
    waiting: dict | None = None  # a review decision or a whole-order cancel waiting for a supervisor's tap
    parcel_on_scale: bool = False  # the last stable reading had a parcel on it
    scale_must_clear: bool = False  # a carton closed on the scale: the next weighing waits for an empty scale
    last_scan: dict | None = None  # exactly what the last scan at the kiosk was, from any scanner
    last_activity: datetime | None = None
    scale: Scale = field(default_factory=Scale)
    devices: dict[str, dict] = field(default_factory=dict)
    verdict: dict | None = None
    verdict_seq: int = 0
    verdict_at: float | None = None  # when the verdict was shown (monotonic): the kiosk ages it back to the next step
    shown_sync: tuple | None = None  # (depth, dead, online) the pages were last sent
    label: dict | None = None  # the carton's label: requested, printing, failed, verify_expected, verified
    counters: dict[str, int] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # health problems by source (e.g. the video's disk)
    storage_fault: str | None = None  # the last write failed (disk full, read-only) and none has succeeded since
    site_clock: dict | None = None  # the site hub's measure of this station's clock: offset_s, warning


@dataclass
class Parts:
    cfg: Settings
    clock: Clock
    conn: sqlite3.Connection
    lock: threading.RLock
    catalog: StationCatalog
    outbox: Outbox
    bus: EventBus
    patterns: SitePatterns
    live: Live
    tolerance: ToleranceConfig
    escalation: esc_rules.EscalationConfig
    lot_policy: LotPolicy
    load: LoadGauge  # above load.shed_pct the work that can wait steps aside (sync/common/load.py)

    @property
    def id(self) -> str:
        return str(self.cfg["station.id"])

    @property
    def location(self) -> str:
        return str(self.cfg["station.location"])

    def device_id(self, name: str) -> str:
        """The id a device of this station is recorded under, e.g. ST01-scale."""
        return device_id(self.id, name)


def device_id(station_id: str, name: str) -> str:
    return f"{station_id}-{name}"
