"""The one engine that sends the site's notices exactly once: escalations, alert rules and scheduled reports.

A *source* keeps its notices in a table of its own, keyed by what it is about (``(order, level)`` for an escalation,
``(rule, subject)`` for an alert or a report); ``Dispatcher.tick(source, notifier)`` claims each due row in a
transaction (state 'sending', retry time set) before the message leaves, then records 'sent' (with the number of
channels it reached) or 'pending' again with the error. A crash between the send and the record repeats that one
message after the retry time, with the same stable id, so a receiver can drop the repeat. Messages go out
concurrently through at most ``senders`` threads, and a row is claimed only when a sender is free to send it at
once (a claimed row never waits in a queue past its retry time). Several hubs on one database never send one row
twice: the claim is ``SKIP LOCKED`` on PostgreSQL, the single writer on SQLite.

A site with no notification channel sends nothing and says so: the row is recorded with 0 channels ("not sent: no
channel"), never as delivered.
"""
from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from packgate.device.clock import Clock
from packgate.sync.common.notify import Notifier
from packgate.sync.hub.engine import Conn, Database

log = logging.getLogger(__name__)
SENDERS = 8


@dataclass(frozen=True)
class Due:
    """One notice claimed for sending: its stable id, its message, the channels to leave out (a failing channel is
    not told about itself) and what its source needs to record the outcome."""
    ident: str
    title: str
    body: str
    skip: tuple[int, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


class Source(Protocol):
    """A table of notices the dispatcher sends."""

    def recover(self, conn: Conn, now: datetime) -> None:
        """Rows left 'sending' past their retry time (a hub died mid-send) back to pending."""

    def claim_due(self, conn: Conn, now: datetime, retry_s: float) -> Due | None:
        """The next due row, marked 'sending' with its retry time, or None."""

    def sent(self, conn: Conn, due: Due, now: datetime, channels: int) -> None:
        """Record the row delivered to ``channels`` channels (0: the site has none)."""

    def failed(self, conn: Conn, due: Due, error: str) -> None:
        """Back to pending with ``error``; it is tried again at its retry time."""


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, *, retry_s: float = 30.0, senders: int = SENDERS):
        self.db, self.clock, self.retry_s, self.senders = db, clock, retry_s, senders

    def tick(self, source: Source, notifier: Notifier) -> list[str]:
        """Send every due notice of ``source``; returns the ids recorded sent now, in the order they were done."""
        done_ids: list[str] = []
        self.db.run(lambda conn: source.recover(conn, self.clock.now()))
        pool: ThreadPoolExecutor | None = None
        in_flight: dict[Future[tuple[bool, str | None, int]], Due] = {}
        try:
            while True:
                while len(in_flight) < self.senders:  # claim only what a free sender sends at once
                    due = self.db.run(lambda conn: source.claim_due(conn, self.clock.now(), self.retry_s))
                    if due is None:
                        break
                    pool = pool or ThreadPoolExecutor(self.senders, thread_name_prefix="notice")
                    in_flight[pool.submit(_deliver, notifier, due)] = due
                if not in_flight:
                    return done_ids
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    due = in_flight.pop(future)
                    ok, error, channels = future.result()
                    self._record(source, due, ok, error, channels, done_ids)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _record(self, source: Source, due: Due, ok: bool, error: str | None, channels: int,
                done_ids: list[str]) -> None:
        if ok:
            self.db.run(lambda conn: source.sent(conn, due, self.clock.now(), channels))
            done_ids.append(due.ident)
        else:
            self.db.run(lambda conn: source.failed(conn, due, error or "failed"))
            log.warning("notice %s not delivered (%s); retried in %.0f s", due.ident, error, self.retry_s)


def _deliver(notifier: Notifier, due: Due) -> tuple[bool, str | None, int]:
    """``(ok, error, channels reached)``; no channel configured (or every one skipped): nothing is sent, 0."""
    reach = notifier.reach(due.skip)
    if reach == 0:
        return True, None, 0
    ok, error = notifier.send(due.title, due.body, skip=due.skip)
    return ok, error, reach if ok else 0
