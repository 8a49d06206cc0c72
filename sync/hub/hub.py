"""The hub's moving parts in one object: database, order flow rules, relay, escalations, feed wake-ups.

``Hub(config, clock)`` migrates the database at start. ``start()`` runs the relay thread, one
ticker thread (escalations, claim expiry, reference refresh) and the fast pull of the WMS's order
decisions (``wms_orders``, every ``site.orders_s``); tests call ``tick()`` and ``pull_orders()`` directly
with a fake clock. Long-polls wait on the ``FeedWatch`` (one in-memory tail of the feed, filled once per commit
and polled every 0.1 s for changes written by another hub process).
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from typing import Any

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.notify import Notifier
from packgate.sync.errors import ClaimConflictError, HubRequestError
from packgate.sync.hub import reference, store, wms_orders
from packgate.sync.hub.config import SiteConfig
from packgate.sync.hub.engine import Conn, Database
from packgate.sync.hub.escalations import Escalator
from packgate.sync.hub.feedwatch import FeedWatch
from packgate.sync.hub.migrations import migrate
from packgate.sync.hub.relay import Relay

log = logging.getLogger(__name__)
TICK_S = 1.0


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
        self.feed = FeedWatch(self.db)
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self._puller: threading.Thread | None = None
        self._pull_stop = threading.Event()
        self._last_refresh = -1e18
        self.holder = uuid.uuid4().hex  # this process, for the leases of the jobs one hub does at a time

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Hub":
        self.feed.start()
        self.relay.start()
        self._ticker = threading.Thread(target=self._tick_loop, name="hub-ticker", daemon=True)
        self._ticker.start()
        return self.start_order_pull()

    def start_order_pull(self) -> "Hub":
        """Pull the WMS's order decisions every ``site.orders_s`` in a thread (``start`` does it)."""
        if self.client is not None and self._puller is None:
            self._puller = threading.Thread(target=self._pull_loop, name="hub-orders", daemon=True)
            self._puller.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.relay.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.stop_order_pull()
        self.feed.stop()

    def stop_order_pull(self) -> None:
        self._pull_stop.set()
        if self._puller is not None:
            self._puller.join(timeout=5)

    def _tick_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception as exc:  # the ticker never dies
                log.exception("hub tick failed: %s", exc)
            self._stopping.wait(TICK_S)

    def _pull_loop(self) -> None:
        while not self._pull_stop.is_set():
            try:
                self.pull_orders()
            except Exception as exc:  # the pull never dies
                log.exception("pulling the WMS's order changes failed: %s", exc)
            self._pull_stop.wait(self.config["site.orders_s"])

    def pull_orders(self) -> dict[str, Any]:
        """The orders the WMS held, cancelled, released or changed since the last pull, onto the feed."""
        if self.client is None:
            return {"ok": False, "decisions": 0, "cursor": None, "error": "no upstream"}
        return wms_orders.pull(self.db, self.client, self.clock, self.holder)

    def tick(self) -> dict[str, Any]:
        """Expire silent claims, refresh reference data when due, fire due escalations."""
        out: dict[str, Any] = {"expired": self.db.run(lambda conn: store.expire_claims(conn, self.clock.now()))}
        if self.client is not None and self.clock.monotonic() - self._last_refresh >= self.config["site.refresh_s"]:
            self._last_refresh = self.clock.monotonic()
            out["reference"] = reference.refresh(self.db, self.client, self.clock)
        out["escalations"] = self.escalator.tick()
        self.notify_feed()
        return out

    def notify_feed(self) -> None:
        """Read changes of other hub processes now (the watcher does it every 0.1 s by itself)."""
        self.feed.poke()

    # ---- station requests -----------------------------------------------------------------
    def receive(self, station: str, items: list[Any]) -> list[dict[str, Any]]:
        results = self.db.run(lambda conn: store.receive(conn, station, items, self.clock.now(), self.rules))
        self.relay.wake()
        return results

    def claim(self, station: str, order_id: str, operator: str | None) -> dict[str, Any]:
        now = self.clock.now()
        return self.db.run(lambda conn: self._claim(conn, now, station, order_id, operator))

    def _claim(self, conn: Conn, now: datetime, station: str, order_id: str, operator: str | None) -> dict[str, Any]:
        order = store.get_order(conn, order_id)
        if order is not None and order.get("wms_status") == "cancelled" and order["stage"] not in store.TERMINAL:
            raise ClaimConflictError(f"{order_id} was cancelled by the WMS ({order.get('wms_reason') or 'no reason'})",
                                     {"order_id": order_id, "stage": "cancelled", "station": order.get("station")})
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

        self.db.run(beat_tx)

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
        wms = {"status": row.get("wms_status"), "reason": row.get("wms_reason"), "at": row.get("wms_at"),
               "revision": row.get("wms_revision")} if row.get("wms_status") else None
        return {"order_id": order_id, "stage": row["stage"], "wms": wms, "station": row["station"],
                "operator": row["operator"],
                "priority": row["priority"], "priority_released": bool(row["priority_released"]),
                "stage_since": row["stage_since"], "milestones": row["milestones"], "claim": claim,
                "escalations": [{"level": e["level"], "state": e["state"], "due": e["due_utc"], "sent_at": e["sent_at"],
                                 "acked_by": e["acked_by"], "id": f"{order_id}/{e['level']}"} for e in escalations]}

    def wait_feed(self, since: int, wait_s: float, limit: int = 500) -> dict[str, Any]:
        return self.feed.wait(since, wait_s, limit)
