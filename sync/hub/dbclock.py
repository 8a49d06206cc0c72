"""The hub's clock on PostgreSQL: the database server's, so that several hubs agree on time.

Leases (which hub relays) and due times (escalations, claim expiry, retries) are compared across the hubs of a site
through the rows they share; a hub whose own clock is a minute behind would hold a dead peer's lease a minute longer
and fire escalations a minute late. ``DatabaseClock(db, base)`` reads the database's time (``clock_timestamp()``)
every ``resync_s`` (on a short connection of its own) and between readings moves with ``base``'s monotonic clock: ``now()`` is the database's time
within the round trip of the last reading, whatever ``base.now()`` says. ``monotonic`` and ``sleep`` are ``base``'s.
A reading that fails (the database is down) keeps the last offset: time does not jump during an outage.

A hub on SQLite has one machine and one clock; its default clock is the machine's. A test injects its own clock.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from packgate.device.clock import Clock
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)
RESYNC_S = 30.0


class DatabaseClock(Clock):
    def __init__(self, db: Database, base: Clock | None = None, *, resync_s: float = RESYNC_S):
        self.db, self.base, self.resync_s = db, base or Clock(), resync_s
        self.offset_s: float | None = None  # the database's time less base.now(), at the last reading
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def sync(self) -> float | None:
        """Read the database's time now; returns the offset (None: never read yet and the database is down)."""
        before, mono = self.base.now(), self.base.monotonic()
        conn: Any = None
        try:
            conn = self.db.engine.connect()  # a connection of its own: a reading never waits for the pool
            server = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
        except Exception as exc:  # noqa: BLE001 - an outage: keep the last offset, try again at the next resync
            log.debug("database clock not read: %s", exc)
            with self._lock:
                self._read_at = mono
                return self.offset_s
        finally:
            if conn is not None:
                conn.close()
        after = self.base.now()
        if not isinstance(server, datetime):
            return self.offset_s
        middle = before + (after - before) / 2
        with self._lock:
            self.offset_s = (server - middle).total_seconds()
            self._read_at = mono
            return self.offset_s

    def now(self) -> datetime:
        with self._lock:
            due = self.base.monotonic() - self._read_at >= self.resync_s
        if due:
            self.sync()
        offset = self.offset_s or 0.0
        return (self.base.now() + timedelta(seconds=offset)).astimezone()

    def monotonic(self) -> float:
        return self.base.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        return self.base.sleep(seconds, stop)
