"""Site escalations: on time, once per (order, level), never for an order packed anywhere.

``tick()`` claims each due row in a transaction (state 'sending', retry time set) before the
message leaves, then records 'sent' (and releases the order's priority on the feed at level 1) together with the
one ``escalate`` confirmation the WMS gets for that (order, level) through the relay queue (``store.own_confirmation``,
keyed ``escalate:<order>:<level>``: a repeated send queues nothing more).
A crash between the send and the record repeats that one message after the retry time: every
message carries the stable id ``<order>/<level>`` so a receiver can drop the repeat.
"""
from __future__ import annotations

import logging
from functools import partial
from typing import Any

from packgate.device.clock import Clock
from packgate.sync.common.notify import Notifier
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)


def message(order: dict[str, Any] | None, order_id: str, level: int, station_name: str) -> tuple[str, str]:
    title = f"packgate: order {order_id} not packed (level {level})"
    picked = (order or {}).get("milestones", {}).get("picked", "?")
    body = (f"id {order_id}/{level}: {order_id} was picked at {picked} and is not packed anywhere on the site;"
            f" stage {(order or {}).get('stage', '?')} at {station_name}. Its priority is released to any packer.")
    return title, body


class Escalator:
    def __init__(self, db: Database, notifier: Notifier, clock: Clock, *, retry_s: float = 30.0,
                 station_name: Any = str, code: str = "HUB"):
        self.db, self.notifier, self.clock = db, notifier, clock
        self.code = code
        self.retry_s = retry_s
        self.station_name = station_name

    def tick(self) -> list[str]:
        """Send every escalation that is due; returns the ids sent now."""
        sent: list[str] = []
        self.db.run(lambda conn: store.recover_sending(conn, self.clock.now()))
        while True:
            row = self.db.run(lambda conn: store.claim_due_escalation(conn, self.clock.now(), self.retry_s))
            if row is None:
                return sent
            order_id, level = row["order_id"], int(row["level"])
            station = (row["order"] or {}).get("station") or "?"
            ok, error = self.notifier.send(*message(row["order"], order_id, level, self.station_name(station)))
            if ok:
                self.db.run(partial(store.escalation_sent, order_id=order_id, level=level, now=self.clock.now(),
                                    code=self.code, deadline=row["due_utc"]))
                sent.append(f"{order_id}/{level}")
            else:
                self.db.run(partial(store.escalation_failed, order_id=order_id, level=level, error=error or "failed"))
                log.warning("escalation %s/%s not delivered (%s); retried in %.0f s", order_id, level, error,
                            self.retry_s)
