"""A job one hub of the site does at a time (the relay, the subscribers' delivery) holds a lease row
(``hub_leases``): ``Lease.held(now)`` takes or renews it in a write of its own only once a third of it has passed,
so the passes in between read their rows without writing (before, the subscribers' delivery wrote the lease in
every pass, and it passes at every event its hub commits). The holder is the hub's stable identity
(``Hub.serving_on``); a new one takes the lease at the next pass. ``give_back`` hands it back when the job stops, so a
peer hub takes over at once rather than when it runs out."""
from __future__ import annotations

import logging
from datetime import datetime

from packgate.device.clock import Clock
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, db: Database, name: str, holder: str, clock: Clock, lease_s: float):
        self.db, self.name, self.clock, self.lease_s = db, name, clock, lease_s
        self._holder = holder
        self._renew_at = float("-inf")  # monotonic time the lease is next renewed

    @property
    def holder(self) -> str:
        return self._holder

    @holder.setter
    def holder(self, value: str) -> None:
        self._holder, self._renew_at = value, float("-inf")

    @property
    def recheck_s(self) -> float:
        """A third of the lease: how often the holder renews it, and a hub on standby looks whether it ran out."""
        return self.lease_s / 3

    def held(self, now: datetime) -> bool:
        """True while this hub holds the lease (renewed here when a third of it has passed); False while another
        holder's runs."""
        if self.clock.monotonic() < self._renew_at:
            return True
        if not self.db.run(lambda conn: store.take_lease(conn, self.name, self._holder, now, self.lease_s)):
            return False
        self._renew_at = self.clock.monotonic() + self.recheck_s
        return True

    def give_back(self) -> None:
        """Hand the lease back (a peer takes it at its next pass, not when it runs out); with the database down it
        is said in the log and runs out by itself."""
        self._renew_at = float("-inf")
        try:
            self.db.run(lambda conn: store.give_back_lease(conn, self.name, self._holder))
        except Exception as exc:  # noqa: BLE001 - whatever the database raised: the job is stopping anyway
            log.info("%s lease not handed back (%s); it runs out in %.0f s", self.name, exc, self.lease_s)
