"""The outbox worker: one thread that owns delivery and every retry.

Loop: take the head of the queue; if its ``next_attempt_at`` has come, send the first
``batch_size`` pending rows (seq order, so per-order order holds) with their frozen bytes; record
per-item answers in one transaction. A transient failure reschedules the whole batch with
full-jitter backoff (honouring Retry-After); a permanent refusal of a multi-item batch is
narrowed down by sending the rows one at a time, and a refused single row becomes a visible dead
letter. All waiting is on an Event, so ``stop()`` returns promptly even mid-backoff.
"""
from __future__ import annotations

import logging
import random
import sqlite3
import threading
from datetime import timedelta

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock, parse_iso
from packgate.sync import crash
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import DbSpec, factory
from packgate.sync.errors import PermanentUpstreamError, StorageError, TransientUpstreamError
from packgate.sync.outbox import SKEW_WARN_S, Outbox
from packgate.sync.schema import upgrade

log = logging.getLogger(__name__)


class OutboxWorker:
    """``OutboxWorker(db_path, client, clock, batch_size=100).start()`` … ``.stop()``."""

    def __init__(self, db: DbSpec, client: UpstreamClient, clock: Clock | None = None, batch_size: int = 100, *,
                 rng: random.Random | None = None, backoff: Backoff | None = None, idle_s: float = 1.0,
                 recheck_s: float = 5.0, name: str = "outbox-worker"):
        self._connect = factory(db)
        self.client = client
        self.clock = clock or Clock()
        self.batch_size = max(1, batch_size)
        self.rng = rng or random.SystemRandom()
        self.backoff = backoff or Backoff()
        self.idle_s = idle_s
        self.recheck_s = recheck_s
        self.name = name
        self._signal = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._isolate = 0  # rows left to send one at a time after a permanent batch refusal
        self.last_outcome: dict = {}
        self._skew_warned = False

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> "OutboxWorker":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stopping = False
        self._signal.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to finish; returns True if it ended within ``timeout``."""
        self._stopping = True
        self._signal.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def wake(self) -> None:
        """Look at the queue now (call after committing a confirmation)."""
        self._signal.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        failing: str | None = None
        try:
            while not self._stopping:
                try:
                    wait = self.run_once()["wait_s"]
                    if failing is not None:
                        log.warning("outbox worker recovered (was: %s)", failing)
                        failing = None
                except Exception as exc:  # the worker never dies; the next pass tries again
                    now_failing = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, StorageError) and failing is not None:
                        pass  # one log line per change of state, not a traceback per pass
                    elif isinstance(exc, StorageError):
                        log.error("outbox worker cannot use the station database: %s", now_failing)
                    else:
                        log.exception("outbox worker pass failed: %s", exc)
                    failing = now_failing
                    self._drop_conn()
                    wait = self.idle_s
                if wait > 0 and not self._stopping:
                    self.clock.sleep(wait, self._signal)
                    self._signal.clear()
        finally:
            self._drop_conn()

    # ---- one pass -------------------------------------------------------------------------
    def run_once(self) -> dict:
        """Send at most one batch; returns what happened and how long to wait before the next pass."""
        conn = self._db()
        head = Outbox.head(conn)
        now = self.clock.now()
        if head is None:
            return self._outcome("idle", self.idle_s)
        due_in = (parse_iso(head.next_attempt_at) - now).total_seconds()
        if due_in > 0:
            return self._outcome("waiting", min(due_in, self.recheck_s))
        rows = Outbox.batch(conn, head.station, 1 if self._isolate else self.batch_size)
        try:
            results = self.client.send_confirmations(head.station, [row.body for row in rows])
        except PermanentUpstreamError as exc:
            if len(rows) > 1:
                self._isolate = len(rows)
                log.warning("batch of %d refused (%s); sending them one at a time", len(rows), exc)
                return self._outcome("isolating", 0.0, n=len(rows), error=str(exc))
            Outbox.mark_dead(conn, rows[0], str(exc), self.clock.now())
            self._isolate = max(0, self._isolate - 1)
            log.error("confirmation %s is a dead letter: %s", rows[0].id, exc)
            return self._outcome("dead", 0.0, n=1, error=str(exc))
        except TransientUpstreamError as exc:
            later = self.clock.now()
            delay = self.backoff.delay(head.attempts + 1, self.rng, exc.retry_after_s)
            Outbox.mark_failure(conn, rows, str(exc), later, later + timedelta(seconds=delay), self.client.last_skew_s)
            log.warning("sending %d confirmation(s) failed (%s); retry in %.1f s", len(rows), exc, delay)
            return self._outcome("failed", min(delay, self.recheck_s), n=len(rows), error=str(exc), delay_s=delay)
        self._check_skew()
        crash.point("after_2xx_before_mark")
        counts = Outbox.mark_results(conn, rows, results, self.clock.now(), self.client.last_skew_s)
        if self._isolate:
            self._isolate = max(0, self._isolate - len(rows))
        return self._outcome("sent", 0.0, n=len(rows), **counts)

    def drain(self, max_passes: int = 1_000_000) -> int:
        """Run passes until the queue is empty or waiting (tests and tools); returns rows handled."""
        handled = 0
        for _ in range(max_passes):
            outcome = self.run_once()
            if outcome["outcome"] in ("idle", "waiting", "failed"):
                break
            handled += outcome.get("n", 0)
        return handled

    def _check_skew(self) -> None:
        skew = self.client.last_skew_s
        warn = skew is not None and abs(skew) > SKEW_WARN_S
        if warn and not self._skew_warned:
            log.warning("station clock differs from upstream by %+.1f s; fix NTP (timestamps carry our clock)", skew)
        self._skew_warned = warn

    # ---- helpers --------------------------------------------------------------------------
    def _outcome(self, outcome: str, wait_s: float, **extra) -> dict:
        self.last_outcome = {"outcome": outcome, "wait_s": wait_s, **extra}
        return self.last_outcome

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
            upgrade(self._conn, self.clock)
        return self._conn

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None


__all__ = ["OutboxWorker"]
