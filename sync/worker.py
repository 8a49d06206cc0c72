"""The outbox worker: the station's one thread that owns delivery and every retry.

It is the delivery engine (``sync.delivery``) over the station's outbox, run by a ``Loop``. A pass takes
the head of the queue; if its ``next_attempt_at`` has come, it sends the first ``batch_size`` pending rows
of that station (seq order, so per-order order holds) with their frozen bytes and records the per-item
answers in one transaction. A transient failure reschedules the whole batch with full-jitter backoff
(honouring Retry-After); a permanent refusal of a multi-item batch is narrowed down by sending the rows
one at a time, and a refused single row becomes a visible dead letter. Crash points (``sync.crash``):
``after_2xx_before_mark`` between upstream's answer and its record, ``during_mark`` inside the record.
All waiting is the loop's, so ``stop()`` returns promptly even mid-backoff.
"""
from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import Any, Callable, Sequence

from packgate.device.backoff import Backoff, Random
from packgate.device.clock import Clock, parse_iso
from packgate.sync import crash
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import DbSpec, factory
from packgate.sync.common.loop import Loop
from packgate.sync.delivery import Batch, DeliveryEngine, Failed, Pause, Sent, Settled
from packgate.sync.outbox import SKEW_WARN_S, Outbox, Row
from packgate.sync.schema import upgrade

log = logging.getLogger(__name__)


class OutboxWorker(Loop[dict[str, Any]]):
    """``OutboxWorker(db_path, client, clock, batch_size=100).start()`` … ``.stop()``."""

    def __init__(self, db: DbSpec, client: UpstreamClient, clock: Clock | None = None, batch_size: int = 100, *,
                 rng: Random | None = None, backoff: Backoff | None = None, idle_s: float = 1.0,
                 recheck_s: float = 5.0, name: str = "outbox-worker"):
        super().__init__(name, every_s=idle_s, clock=clock, rng=rng, logger=log, what="outbox worker pass")
        self._connect = factory(db)
        self.idle_s = idle_s
        self.recheck_s = recheck_s
        self._conn: sqlite3.Connection | None = None
        self._skew_warned = False
        self.engine: DeliveryEngine[Row] = DeliveryEngine(self, client, self.clock, batch_size=batch_size,
                                                          backoff=backoff, rng=self.rng, idle_s=idle_s,
                                                          recheck_s=recheck_s, logger=log)

    # the engine's settings, where the agent and the tests look for them
    @property
    def client(self) -> UpstreamClient:
        assert self.engine.client is not None
        return self.engine.client

    @client.setter
    def client(self, client: UpstreamClient) -> None:
        self.engine.client = client

    @property
    def backoff(self) -> Backoff:
        return self.engine.backoff

    @property
    def batch_size(self) -> int:
        return self.engine.batch_size

    @property
    def last_outcome(self) -> dict[str, Any]:
        return self.engine.last

    # ---- the loop ---------------------------------------------------------------------------
    def run_once(self) -> dict[str, Any]:
        """Send at most one batch; returns what happened and how long to wait before the next pass."""
        return self.engine.run_once()

    def wait_after(self, result: dict[str, Any]) -> float:
        return float(result["wait_s"])

    def drain(self, max_passes: int = 1_000_000) -> int:
        """Run passes until the queue is empty or waiting (tests and tools); returns rows handled."""
        return self.engine.drain(max_passes)

    def on_failure(self, exc: Exception) -> None:
        self.release()  # the next pass opens a fresh connection

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    # ---- the engine's source: the outbox ----------------------------------------------------
    def take(self, now: datetime, limit: Callable[[str], int], max_rows: int) -> Sequence[Batch[Row]] | Pause:
        conn = self._db()
        head = Outbox.head(conn)
        if head is None:
            return Pause("idle", self.idle_s)
        due_in = (parse_iso(head.next_attempt_at) - now).total_seconds()
        if due_in > 0:
            return Pause("waiting", min(due_in, self.recheck_s))
        return [Batch(head.station, tuple(Outbox.batch(conn, head.station, min(limit(head.station), max_rows))))]

    def record(self, settled: Sequence[Settled[Row]]) -> None:
        conn = self._db()
        skew = self.client.last_skew_s
        for item in settled:
            rows = item.batch.rows
            if isinstance(item, Sent):
                self._check_skew()
                crash.point("after_2xx_before_mark")
                Outbox.mark_results(conn, rows, item.results, self.clock.now(), skew)
            elif isinstance(item, Failed):
                Outbox.mark_failure(conn, rows, item.error, item.at, item.retry_at, skew)
            else:
                Outbox.mark_dead(conn, item.row, item.reason, self.clock.now())

    def _check_skew(self) -> None:
        skew = self.client.last_skew_s
        warn = skew is not None and abs(skew) > SKEW_WARN_S
        if warn and not self._skew_warned:
            log.warning("station clock differs from upstream by %+.1f s; fix NTP (timestamps carry our clock)", skew)
        self._skew_warned = warn

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
            upgrade(self._conn, self.clock)
        return self._conn


__all__ = ["OutboxWorker"]
