"""Relaying the stations' confirmations to the WMS, exactly once in effect, in order per station.

The queue is ``hub_confirmations`` itself: a confirmation is committed there in the transaction that applies its
effect on the site's order flow (``store.receive``). The relay is the delivery engine (``sync.delivery``) over that
table, run by a ``Loop``: a pass takes, in one transaction, the due rows of up to ``PASS_ROWS`` (the WMS contract's
1,000) across stations — each station's pending rows in seq order, at most ``batch_size`` per station — sends them in
one request, each station's rows under its own id and key with the station's frozen bytes (``POST
/v1/confirmations/batches``; to a WMS without that call one request per station, ``senders`` at once; the WMS
deduplicates by (station, key)), and marks every answer in one transaction. Retries are owned by the rows (attempts,
next_attempt_at) with full-jitter backoff and Retry-After; a refused single row is a visible dead letter. With several
hubs on one database a lease row lets one relay at a time; its holder is the hub's stable identity
(``Hub.serving_on``: host and port), so a restarted hub takes its own dead predecessor's lease at once, and a hub that
stops hands the lease back.
"""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.loop import Loop
from packgate.sync.delivery import Batch, DeliveryEngine, Failed, Pause, Sent, Settled
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database
from packgate.sync.hub.lease import Lease

log = logging.getLogger(__name__)
LEASE_S = 15.0
PACE_S = 1.0  # a pass that sent something starts at most this often (a station's rows gather into one request)
PASS_ROWS = 1000  # rows per pass across stations: the WMS contract's most per request


@dataclass(frozen=True)
class HubRow:
    """A received confirmation waiting for the WMS."""

    id: str
    station: str
    seq: int
    body: bytes
    attempts: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> "HubRow":
        return cls(str(row["id"]), str(row["station"]), int(row["seq"]), str(row["body"]).encode(),
                   int(row["attempts"]))


class Relay(Loop[dict[str, Any]]):
    """``Relay(db, client, clock).run_once()``; ``start()``/``stop()`` run it in a thread."""

    def __init__(self, db: Database, client: UpstreamClient | None, clock: Clock, *, batch_size: int = 100,
                 backoff: Backoff | None = None, rng: random.Random | None = None, idle_s: float = 1.0,
                 holder: str | None = None, lease_s: float = LEASE_S, outage: tuple[type[BaseException], ...] = (),
                 senders: int = 1, pace_s: float = PACE_S):
        super().__init__("hub-relay", every_s=idle_s, clock=clock, rng=rng, logger=log, what="relay pass",
                         outage=outage)
        self.db = db
        self.idle_s = idle_s
        # the hub's stable identity holds the lease: a restart takes its own lease back
        self.lease = Lease(db, "relay", holder or uuid.uuid4().hex, self.clock, lease_s)
        self.pace_s = pace_s
        self._pass_began = float("-inf")
        self._in_pass = False
        self._woken_in_pass = False  # a confirmation arrived while a pass ran
        self.engine: DeliveryEngine[HubRow] = DeliveryEngine(self, client, self.clock, batch_size=batch_size,
                                                             max_rows=PASS_ROWS, backoff=backoff, rng=self.rng,
                                                             idle_s=idle_s, recheck_s=idle_s, logger=log,
                                                             senders=senders)

    @property
    def client(self) -> UpstreamClient | None:
        return self.engine.client

    @property
    def last(self) -> dict[str, Any]:
        return self.engine.last

    def run_once(self) -> dict[str, Any]:
        self._pass_began = self.clock.monotonic()
        self._in_pass, self._woken_in_pass = True, False
        try:
            return self.engine.run_once()
        finally:
            self._in_pass = False

    def wait_after(self, result: dict[str, Any]) -> float:
        """The engine's wait; after a pass that sent (and has more to send), the rest of ``pace_s`` since it
        began: each station's next request carries what arrived meanwhile, rather than one request per
        confirmation (the relay's CPU and the WMS's grow with requests, not rows). A pass that found nothing while
        a confirmation arrived during it is followed by another at once. A standby relay (another hub holds the
        lease) looks again when its wait ends, whatever arrives: before, every confirmation this hub received woke it
        into a lease attempt, a write transaction each."""
        wait = float(result["wait_s"])
        held = 0.0
        if wait == 0 and result["outcome"] in ("sent", "dead"):
            wait = held = max(0.0, self._pass_began + self.pace_s - self.clock.monotonic())
        elif result["outcome"] == "standby":  # another hub relays: a confirmation received here changes nothing
            held = wait
        elif self._woken_in_pass:
            wait = 0.0
        self.hold_wakes(held)
        return wait

    def wake(self) -> None:
        """A confirmation arrived: relay it now, unless a pass is running (its pace decides when the next one
        starts: waking the loop then would end that wait at once, and every station's request would carry one
        confirmation) or the relay is pacing itself or on standby (wakes held: it comes with the next pass)."""
        if self._in_pass:
            self._woken_in_pass = True
        else:
            super().wake()

    # ---- the engine's source: hub_confirmations ---------------------------------------------
    def take(self, now: datetime, limit: Callable[[str], int], max_rows: int) -> Sequence[Batch[HubRow]] | Pause:
        """Hold the relay lease (renewed in a write of its own once a third of it has passed: no write lock is held
        while the rows are read) and take the due stations' rows, or say why not."""
        if not self.lease.held(now):
            return Pause("standby", self.lease.recheck_s)
        with self.db.read() as conn:
            return self._take(conn, now, limit, max_rows)

    def _take(self, conn: Conn, now: datetime, limit: Callable[[str], int],
              max_rows: int) -> Sequence[Batch[HubRow]] | Pause:
        batches: list[Batch[HubRow]] = []
        room = max_rows
        for station in store.relay_due_stations(conn, now, max_rows):
            rows = store.relay_batch(conn, station, min(limit(station), room))
            batches.append(Batch(station, tuple(HubRow.of(row) for row in rows)))
            room -= len(rows)
            if room <= 0:
                break
        if not batches:
            later = store.relay_next_wait(conn, now)
            return Pause("idle", self.idle_s if later is None else min(later, self.idle_s))
        return batches

    def release(self) -> None:
        """Hand the lease back when the relay stops (a peer hub takes over at once, not after ``lease_s``)."""
        self.engine.close()
        self.lease.give_back()

    def record(self, settled: Sequence[Settled[HubRow]]) -> None:
        marks: list[tuple[str, str, str | None, str | None]] = []  # (id, state, upstream status, error)
        for item in settled:
            if isinstance(item, Sent):
                for row in item.batch.rows:
                    result = item.results[row.id]
                    status = str(result["status"])
                    rejected = status == "rejected"
                    code = result.get("error")  # the WMS's machine word for a refusal (order_cancelled: a conflict)
                    marks.append((row.id, "dead" if rejected else "sent",
                                  str(code) if rejected and isinstance(code, str) and code else status,
                                  str(result.get("reason")) if rejected else None))
            elif not isinstance(item, Failed):
                marks.append((item.row.id, "dead", None, item.reason))

        def mark(conn: Conn) -> None:
            store.relay_mark_many(conn, marks, self.clock.now())
            for item in settled:
                if isinstance(item, Failed):
                    store.relay_retry_later(conn, [row.id for row in item.batch.rows], item.error, item.retry_at)

        self.db.run(mark)
