"""What the station's collaborators share: its settings, clock, connection and lock, reference data,
delivery, and ``Live``, the one snapshot of what the station knows right now.

``Station`` (service.py) builds one ``Parts`` and hands it to the PDA desk, the timers and the views;
each of them changes ``Live`` only under ``Parts.lock``.
"""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol

from packgate.device.barcode import SitePatterns
from packgate.device.clock import Clock
from packgate.device.reading import Reading
from packgate.station.core import escalation as esc_rules
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station.core.catalog import StationCatalog
from packgate.station.core.models import LotPolicy
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.events import EventBus
from packgate.station.ports import Outbox

KIOSK = "kiosk"


class Settings(Protocol):
    """The station's settings by dotted key (``packgate.station.runtime.config.Config``)."""

    def __getitem__(self, key: str) -> Any: ...


def site_patterns(cfg: Settings) -> SitePatterns:
    """The site's own barcodes from ``codes.*`` (an empty pattern switches that kind off)."""
    return SitePatterns(**{f.name: cfg[f"codes.{f.name}"] or None for f in fields(SitePatterns) if f.init})


@dataclass
class Scale:
    """The scale as the station sees it: the last reading and whether the scale is connected."""

    connected: bool = False
    reading: Reading | None = None

    def view(self) -> dict[str, Any]:
        shown = self.reading.as_dict() if self.reading is not None else \
            {"status": None, "stable": False, "weight": None, "unit": None, "grams": None}
        shown.pop("raw", None)
        return {"connected": self.connected, **shown}


@dataclass
class Live:
    """What the station knows right now (changed only under ``Parts.lock``)."""

    pack: pk.PackSession
    picks: dict[str, pick.PickSession]
    override_reason: str | None = None  # a supervisor's reason waiting for their badge
    parcel_on_scale: bool = False  # the last stable reading had a parcel on it
    scale_must_clear: bool = False  # a carton closed on the scale: the next weighing waits for an empty scale
    last_scan: dict | None = None  # exactly what the last scan at the kiosk was, from any scanner
    last_activity: datetime | None = None
    scale: Scale = field(default_factory=Scale)
    devices: dict[str, dict] = field(default_factory=dict)
    verdict: dict | None = None
    verdict_seq: int = 0
    shown_sync: tuple | None = None  # (depth, dead, online) the pages were last sent
    label: dict | None = None  # the carton's label: requested, printing, failed, verify_expected, verified
    counters: dict[str, int] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # health problems by source (e.g. the video's disk)


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
