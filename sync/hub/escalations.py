"""Site escalations: on time, once per (order, level), never for an order packed anywhere.

``tick()`` claims each due row in a transaction (state 'sending', retry time set) before the
message leaves, then records 'sent' (and releases the order's priority on the feed at level 1) together with the
one ``escalate`` confirmation the WMS gets for that (order, level) through the relay queue (``store.own_confirmation``,
keyed ``escalate:<order>:<level>``: a repeated send queues nothing more).
A crash between the send and the record repeats that one message after the retry time: every
message carries the stable id ``<order>/<level>`` so a receiver can drop the repeat. Messages go out concurrently,
through at most ``escalation.senders`` threads: a row is claimed only when a sender is free to send it at once, so
a claimed row is never left waiting in a queue past its retry time.
"""
from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from packgate.device.clock import Clock
from packgate.sync.common.notify import Notifier
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)
SENDERS = 8


def message(order: dict[str, Any] | None, order_id: str, level: int, station_name: str) -> tuple[str, str]:
    title = f"packgate: order {order_id} not packed (level {level})"
    picked = (order or {}).get("milestones", {}).get("picked", "?")
    body = (f"id {order_id}/{level}: {order_id} was picked at {picked} and is not packed anywhere on the site;"
            f" stage {(order or {}).get('stage', '?')} at {station_name}. Its priority is released to any packer.")
    return title, body


class Escalator:
    """``tick()`` sends what is due through at most ``senders`` threads at once (a slow webhook delays one message,
    not the wave behind it)."""

    def __init__(self, db: Database, notifier: Notifier, clock: Clock, *, retry_s: float = 30.0,
                 station_name: Any = str, code: str = "HUB", senders: int = SENDERS):
        self.db, self.notifier, self.clock = db, notifier, clock
        self.code = code
        self.retry_s = retry_s
        self.station_name = station_name
        self.senders = senders

    def tick(self) -> list[str]:
        """Send every escalation that is due; returns the ids sent now (in the order they were delivered)."""
        sent: list[str] = []
        self.db.run(lambda conn: store.recover_sending(conn, self.clock.now()))
        pool: ThreadPoolExecutor | None = None
        in_flight: dict[Future[tuple[bool, str | None]], tuple[str, int, str]] = {}
        try:
            while True:
                while len(in_flight) < self.senders:  # claim only what a free sender sends at once
                    row = self.db.run(lambda conn: store.claim_due_escalation(conn, self.clock.now(), self.retry_s))
                    if row is None:
                        break
                    order_id, level = row["order_id"], int(row["level"])
                    station = (row["order"] or {}).get("station") or "?"
                    pool = pool or ThreadPoolExecutor(self.senders, thread_name_prefix="escalation")
                    note = message(row["order"], order_id, level, self.station_name(station))
                    in_flight[pool.submit(self.notifier.send, *note)] = (order_id, level, row["due_utc"])
                if not in_flight:
                    return sent
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    order_id, level, due = in_flight.pop(future)
                    self._record(order_id, level, due, *future.result(), sent)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _record(self, order_id: str, level: int, due: str, ok: bool, error: str | None, sent: list[str]) -> None:
        if ok:
            self.db.run(partial(store.escalation_sent, order_id=order_id, level=level, now=self.clock.now(),
                                code=self.code, deadline=due))
            sent.append(f"{order_id}/{level}")
        else:
            self.db.run(partial(store.escalation_failed, order_id=order_id, level=level, error=error or "failed"))
            log.warning("escalation %s/%s not delivered (%s); retried in %.0f s", order_id, level, error,
                        self.retry_s)
