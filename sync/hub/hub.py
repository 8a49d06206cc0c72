"""The hub's moving parts in one object: database, order flow rules, relay, escalations, feed wake-ups.

``Hub(config, clock)`` migrates the database at start. ``start()`` runs the relay and one ticker
(escalations, claim expiry, reference refresh: by one hub of the site at a time, under a lease), each a ``Loop``
on the hub's clock; tests call ``tick()``
and ``relay.run_once()`` directly with a fake clock. The stations' confirmations and heartbeats go through the
writer queue (``GroupCommit``: the writes that arrive together commit in one transaction, each answered after its
own commit). Followers of the feed wait on the ``FeedWatch`` (one in-memory tail of the feed, filled once per
commit, read from the database every ``feed.seal_s`` for changes written by another hub process, and sealed into
batches serialised once for every follower). ``metrics`` holds the counters behind ``/metrics``.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.loop import Ticker, stop_all
from packgate.sync.common.notify import Notifier
from packgate.sync.errors import ClaimConflictError, HubRequestError
from packgate.sync.hub import reference, store
from packgate.sync.hub.config import SiteConfig
from packgate.sync.hub.engine import Conn, Database
from packgate.sync.hub.escalations import Escalator
from packgate.sync.hub.feedwatch import FeedWatch
from packgate.sync.hub.groupcommit import GroupCommit
from packgate.sync.hub.metrics import HubMetrics
from packgate.sync.hub.migrations import migrate
from packgate.sync.hub.refpages import ReferencePages
from packgate.sync.hub.relay import Relay

log = logging.getLogger(__name__)
TICK_S = 1.0
REFRESH_LEASE_S = 30.0  # the WMS's reference data is pulled by one hub of the site; another takes over after this
RESERVED_THREADS = 32  # server threads feed streams never take (a quarter on a small server): the requests' own


class Hub:
    def __init__(self, config: SiteConfig, clock: Clock | None = None, *, notifier: Notifier | None = None,
                 relay_backoff: Backoff | None = None):
        self.config = config
        self.clock = clock or Clock()
        self.db = Database(config.db_path, pool_size=config["site.db_pool"])
        migrate(self.db, self.clock)
        self.rules = store.FlowRules(config["escalation.first_after_min"], config["escalation.second_after_min"])
        url = config["site.upstream_url"]
        self.client = UpstreamClient(url, deadline_s=config["site.deadline_s"], clock=self.clock,
                                     token=config["site.upstream_token"] or None,
                                     user_agent="packgate-site/1") if url else None
        self.relay = Relay(self.db, self.client, self.clock, batch_size=config["site.batch_size"],
                           backoff=relay_backoff or Backoff(config["site.backoff_base_s"], config["site.backoff_cap_s"]))
        self.escalator = Escalator(self.db, notifier or Notifier(config["escalation.notify"]), self.clock,
                                   retry_s=config["escalation.retry_s"], station_name=config.station_name)
        threads = config["site.threads"]
        self.feed = FeedWatch(self.db, seal_s=config["feed.seal_s"],
                              max_streams=threads - min(RESERVED_THREADS, threads // 4))
        self.metrics = HubMetrics(self.snapshot)
        self.reference_pages = ReferencePages(self.db)
        self.writer = GroupCommit(self.db, observe=self.metrics.committed)
        self.ticker = Ticker("hub-ticker", self._tick_pass, every_s=TICK_S, clock=self.clock, logger=log,
                             what="hub tick")
        self._last_refresh = -1e18
        self.holder = uuid.uuid4().hex  # this hub process, in leases

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Hub":
        self.feed.start()
        self.relay.start()
        self.ticker.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the relay, the ticker and the feed watcher; True if all ended within ``timeout``."""
        return stop_all((self.relay, self.ticker, self.feed), timeout)

    def _tick_pass(self) -> None:
        self.tick()

    def tick(self) -> dict[str, Any]:
        """Expire silent claims, refresh reference data when due, fire due escalations."""
        out: dict[str, Any] = {"expired": self.db.run(lambda conn: store.expire_claims(conn, self.clock.now()))}
        if self.client is not None and self.clock.monotonic() - self._last_refresh >= self.config["site.refresh_s"]:
            self._last_refresh = self.clock.monotonic()
            ttl = max(REFRESH_LEASE_S, 3 * self.config["site.refresh_s"])
            if self.db.run(lambda conn: store.take_lease(conn, "reference", self.holder, self.clock.now(), ttl)):
                out["reference"] = reference.refresh(self.db, self.client, self.clock)
            else:  # another hub of the site pulls it (twice would write every row twice, with new versions)
                out["reference"] = {"ok": True, "changed": 0, "standby": True}
        out["escalations"] = self.escalator.tick()
        self.notify_feed()
        return out

    def notify_feed(self) -> None:
        """Read changes of other hub processes now (the watcher does it every 0.1 s by itself)."""
        self.feed.poke()

    # ---- station requests -----------------------------------------------------------------
    def receive(self, station: str, items: list[Any]) -> list[dict[str, Any]]:
        results = self.writer.run(lambda conn: store.receive(conn, station, items, self.clock.now(), self.rules))
        self.metrics.received(results)
        self.relay.wake()
        return results

    def claim(self, station: str, order_id: str, operator: str | None) -> dict[str, Any]:
        now = self.clock.now()
        return self.db.run(lambda conn: self._claim(conn, now, station, order_id, operator))

    def _claim(self, conn: Conn, now: datetime, station: str, order_id: str, operator: str | None) -> dict[str, Any]:
        order = store.get_order(conn, order_id)
        if order is not None and order["stage"] in store.TERMINAL:
            where = self.config.station_name(order.get("packed_by") or order.get("station") or "?")
            raise ClaimConflictError(f"{order_id} is already {order['stage']} (at {where})",
                                     {"order_id": order_id, "stage": order["stage"], "station": order.get("station")})
        held = store.claim(conn, order_id, station, operator, now, self.config["claims.expire_after_s"])
        if held is not None:
            person = store.employee_name(conn, held.get("operator")) or "someone"
            raise ClaimConflictError(f"{order_id} is being packed at {self.config.station_name(held['station'])}"
                                     f" by {person}", {**held, "operator_name": person,
                                                       "table": self.config.station_name(held["station"])})
        return store.get_claim(conn, order_id) or {}

    def release(self, order_id: str, *, station: str | None = None, supervisor: str | None = None,
                reason: str = "") -> dict[str, Any]:
        now = self.clock.now()

        def release(conn: Conn) -> dict[str, Any]:
            held = store.get_claim(conn, order_id)
            if held is None:
                raise HubRequestError(f"{order_id} is not claimed", 404)
            if station is not None and held["station"] != station:
                raise HubRequestError(f"{order_id} is claimed by {held['station']}, not {station}; a supervisor can"
                                      " release it from the dashboard", 403)
            store.release_claim(conn, order_id, now, "released" if supervisor is None else "supervisor")
            if supervisor is not None:
                store.audit(conn, now, supervisor, "release_claim", order_id, held, {"reason": reason})
            return held

        return self.db.run(release)

    def heartbeat(self, station: str, beat: dict[str, Any]) -> None:
        now = self.clock.now()

        def beat_tx(conn: Conn) -> None:
            store.heartbeat(conn, station, beat, now)
            store.renew_station_claims(conn, station, now, self.config["claims.expire_after_s"])

        self.writer.run(beat_tx)

    def order(self, order_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = store.get_order(conn, order_id)
            ref = store.ref_get(conn, "orders", order_id)
            if row is None and ref is None:
                return None
            claim = store.get_claim(conn, order_id)
            escalations = store.escalations(conn, order_id)
        row = row or {"stage": "open", "station": None, "operator": None, "priority": ref.get("priority", 0) if ref
                      else 0, "priority_released": 0, "milestones": {}, "stage_since": None}
        return {"order_id": order_id, "stage": row["stage"], "station": row["station"], "operator": row["operator"],
                "priority": row["priority"], "priority_released": bool(row["priority_released"]),
                "stage_since": row["stage_since"], "milestones": row["milestones"], "claim": claim,
                "escalations": [{"level": e["level"], "state": e["state"], "due": e["due_utc"], "sent_at": e["sent_at"],
                                 "acked_by": e["acked_by"], "id": f"{order_id}/{e['level']}"} for e in escalations]}

    def snapshot(self) -> dict[str, Any]:
        """What ``/metrics`` reads when scraped: the relay's queue and the feed's state."""
        with self.db.read() as conn:
            relay = store.relay_status(conn, self.clock.now())
        feed = self.feed
        return {"relay": relay, "feed": {"head": feed.head, "sealed": feed.sealed, "streams": feed.streams,
                                         "waiting": feed.waiting, "batches": feed.sealed_batches,
                                         "changes": feed.sealed_changes}}
