"""Site escalations: on time, once per (order, level), never for an order packed anywhere — one source of the
dispatcher (``dispatch.py``: the claim before the send, the retry, the senders, several hubs).

What an escalation adds to a notice: when it is recorded sent, the order's priority is released on the feed at level
1, and the one ``escalate`` confirmation the WMS gets for that (order, level) joins the relay queue in the same
transaction (``store.own_confirmation``, keyed ``escalate:<order>:<level>``: a repeated send queues nothing more).
Every message carries the stable id ``<order>/<level>``. With no notification channel the escalation is still
recorded (the WMS is told, the priority released) but shown as not sent (0 channels).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from packgate.device.clock import Clock
from packgate.sync.common.notify import Notifier
from packgate.sync.hub import store
from packgate.sync.hub.dispatch import SENDERS, Dispatcher, Due
from packgate.sync.hub.engine import Conn, Database


def message(order: dict[str, Any] | None, order_id: str, level: int, station_name: str) -> tuple[str, str]:
    title = f"packgate: order {order_id} not packed (level {level})"
    picked = (order or {}).get("milestones", {}).get("picked", "?")
    body = (f"id {order_id}/{level}: {order_id} was picked at {picked} and is not packed anywhere on the site;"
            f" stage {(order or {}).get('stage', '?')} at {station_name}. Its priority is released to any packer.")
    return title, body


class EscalationSource:
    """``hub_escalations`` as a dispatcher source."""

    def __init__(self, station_name: Callable[[str], str], code: str):
        self.station_name, self.code = station_name, code

    def recover(self, conn: Conn, now: datetime) -> None:
        store.recover_sending(conn, now)

    def claim_due(self, conn: Conn, now: datetime, retry_s: float) -> Due | None:
        row = store.claim_due_escalation(conn, now, retry_s)
        if row is None:
            return None
        order_id, level = row["order_id"], int(row["level"])
        station = (row["order"] or {}).get("station") or "?"
        title, body = message(row["order"], order_id, level, self.station_name(station))
        return Due(f"{order_id}/{level}", title, body, data={"order_id": order_id, "level": level, "due": row["due_utc"]})

    def sent(self, conn: Conn, due: Due, now: datetime, channels: int) -> None:
        store.escalation_sent(conn, due.data["order_id"], due.data["level"], now, self.code, due.data["due"], channels)

    def failed(self, conn: Conn, due: Due, error: str) -> None:
        store.escalation_failed(conn, due.data["order_id"], due.data["level"], error)


class Escalator:
    """``tick()`` sends what is due through at most ``senders`` threads at once (a slow webhook delays one message,
    not the wave behind it)."""

    def __init__(self, db: Database, notifier: Notifier, clock: Clock, *, retry_s: float = 30.0,
                 station_name: Any = str, code: str = "HUB", senders: int = SENDERS):
        self.notifier = notifier
        self.source = EscalationSource(station_name, code)
        self.dispatcher = Dispatcher(db, clock, retry_s=retry_s, senders=senders)

    def tick(self) -> list[str]:
        """Send every escalation that is due; returns the ids done now (in the order they were delivered)."""
        return self.dispatcher.tick(self.source, self.notifier)
