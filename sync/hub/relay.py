"""Relaying the stations' confirmations to the WMS, exactly once in effect, in order per station.

The queue is ``hub_confirmations`` itself: a confirmation is committed there in the transaction
that applies its effect on the site's order flow (``store.receive``). One relay thread per hub
sends each station's pending rows in seq order, under that station's own id and key (the WMS
deduplicates by (station, key)), with the station's frozen bytes. Retries are owned by the rows
(attempts, next_attempt_at) with full-jitter backoff and Retry-After; a refused single row is a
visible dead letter. With several hubs on one database a lease row lets one relay at a time.
"""
from __future__ import annotations

import logging
import random
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.errors import PermanentUpstreamError, TransientUpstreamError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database

log = logging.getLogger(__name__)
LEASE_S = 15.0


class Relay:
    """``Relay(db, client, clock).run_once()``; ``start()``/``stop()`` run it in a thread."""

    def __init__(self, db: Database, client: UpstreamClient | None, clock: Clock, *, batch_size: int = 100,
                 backoff: Backoff | None = None, rng: random.Random | None = None, idle_s: float = 1.0):
        self.db, self.client, self.clock = db, client, clock
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.rng = rng or random.SystemRandom()
        self.idle_s = idle_s
        self.holder = uuid.uuid4().hex
        self._isolate = 0
        self._signal = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: dict[str, Any] = {}

    def start(self) -> "Relay":
        self._thread = threading.Thread(target=self._run, name="hub-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._signal.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        self._signal.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self.run_once()["wait_s"]
            except Exception as exc:  # the relay never dies; the next pass tries again
                log.exception("relay pass failed: %s", exc)
                wait = self.idle_s
            if wait > 0:
                self._signal.wait(wait)
                self._signal.clear()

    def run_once(self) -> dict[str, Any]:
        if self.client is None:
            return self._outcome("no_upstream", self.idle_s)
        now = self.clock.now()
        station, rows, early = self.db.run(lambda conn: self._take(conn, now))
        if early is not None:
            return early
        try:
            results = self.client.send_confirmations(station, [row["body"].encode() for row in rows])
        except PermanentUpstreamError as exc:
            if len(rows) > 1:
                self._isolate = len(rows)
                return self._outcome("isolating", 0.0, n=len(rows), error=str(exc))
            error = str(exc)
            self.db.run(lambda conn: store.relay_mark(conn, rows[0]["id"], "dead", None, error, self.clock.now()))
            self._isolate = max(0, self._isolate - 1)
            log.error("confirmation %s is a dead letter at the hub: %s", rows[0]["id"], exc)
            return self._outcome("dead", 0.0, n=1, error=str(exc))
        except TransientUpstreamError as exc:
            delay = self.backoff.delay(rows[0]["attempts"] + 1, self.rng, exc.retry_after_s)
            retry_at = self.clock.now() + timedelta(seconds=delay)
            error = str(exc)
            self.db.run(lambda conn: store.relay_retry_later(conn, [row["id"] for row in rows], error, retry_at))
            log.warning("relaying %d confirmation(s) of %s failed (%s); retry in %.1f s", len(rows), station, exc, delay)
            return self._outcome("failed", min(delay, self.idle_s), n=len(rows), error=str(exc))
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for row in rows:
            counts[str(results[row["id"]]["status"])] += 1

        def mark(conn: Conn) -> None:
            for row in rows:
                result = results[row["id"]]
                status = str(result["status"])
                if status == "rejected":
                    store.relay_mark(conn, row["id"], "dead", status, str(result.get("reason")), self.clock.now())
                else:
                    store.relay_mark(conn, row["id"], "sent", status, None, self.clock.now())

        self.db.run(mark)
        if self._isolate:
            self._isolate = max(0, self._isolate - len(rows))
        return self._outcome("sent", 0.0, n=len(rows), **counts)

    def _take(self, conn: Conn, now: datetime) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
        """Hold the relay lease and take the next station's due rows (or say why not)."""
        if not store.take_lease(conn, "relay", self.holder, now, LEASE_S):
            return "", [], self._outcome("standby", LEASE_S / 3)
        station = store.relay_due_station(conn, now)
        if station is None:
            later = store.relay_next_wait(conn, now)
            return "", [], self._outcome("idle", self.idle_s if later is None else min(later, self.idle_s))
        return station, store.relay_batch(conn, station, 1 if self._isolate else self.batch_size), None

    def _outcome(self, outcome: str, wait_s: float, **extra: Any) -> dict[str, Any]:
        self.last = {"outcome": outcome, "wait_s": wait_s, **extra}
        return self.last
