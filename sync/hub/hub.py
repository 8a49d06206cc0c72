"""The hub's moving parts in one object: database, order flow rules, relay, escalations, feed wake-ups.

``Hub(config, clock)`` migrates the database at start. ``start()`` runs the relay, one ticker
(escalations, claim expiry, reference refresh: by one hub of the site at a time, under a lease) and the fast pull
of the WMS's order decisions (``wms_orders``, every ``site.orders_s``), each a ``Loop`` on the hub's clock; tests
call ``tick()``, ``pull_orders()`` and ``relay.run_once()`` directly with a fake clock. The stations'
confirmations and heartbeats go through the writer queue (``GroupCommit``: the writes that arrive together commit
in one transaction, each answered after its own commit). Followers of the feed wait on the ``FeedWatch`` (one
in-memory tail of the feed, filled once per commit, read from the database every ``feed.seal_s`` for changes
written by another hub process, and sealed into batches serialised once for every follower); ``long_polls``
admits their long-polls and streams (per token and in all, so that they never take ingest's threads).
``metrics`` holds the counters behind ``/metrics``.
"""
from __future__ import annotations

import json
import logging
import socket
import uuid
from datetime import date, datetime
from typing import Any

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock, isoformat, parse_iso
from packgate.sync.client import UpstreamClient
from packgate.sync.common.checkpoint import Checkpointer
from packgate.sync.common.load import LoadGauge
from packgate.sync.common.loop import Ticker, stop_all
from packgate.sync.common.notify import Notifier
from packgate.sync.common.sealing import KeyRing
from packgate.sync.errors import ClaimConflictError, HubRequestError, StorageError
from packgate.sync.hub import alerts, parcels, policies, privacy, reconciliation, reference, reports, store, wms_orders
from packgate.sync.hub.alert_rules import parse as parse_rules
from packgate.sync.hub.config import SiteConfig
from packgate.sync.hub.dbclock import DatabaseClock
from packgate.sync.hub.engine import Conn, Database, is_postgresql
from packgate.sync.hub.escalations import Escalator
from packgate.sync.hub.feedwatch import FeedWatch
from packgate.sync.hub.groupcommit import GroupCommit
from packgate.sync.hub.limits import LongPolls
from packgate.sync.hub.metrics import HubMetrics
from packgate.sync.hub.migrations import migrate
from packgate.sync.hub.refpages import ReferencePages
from packgate.sync.hub.relay import Relay
from packgate.sync.hub.subscribers import Subscribers, configured

log = logging.getLogger(__name__)
TICK_S = 1.0
PURGE_EVERY_S = 3600.0
REFRESH_LEASE_S = 30.0  # the WMS's reference data is pulled by one hub of the site; another takes over after this


class Hub:
    def __init__(self, config: SiteConfig, clock: Clock | None = None, *, notifier: Notifier | None = None,
                 relay_backoff: Backoff | None = None):
        self.config = config
        # SQLite: the WAL is copied back by a thread of its own, never inside a confirmation's commit (created before
        # the database's connections, which read its backstop when opened)
        self.checkpointer = None if is_postgresql(config.db_path) else Checkpointer(config.db_path)
        self.db = Database(config.db_path, pool_size=config["site.db_pool"])
        # on PostgreSQL the database's clock: the hubs of a site agree on leases and due times
        self.clock = clock or (DatabaseClock(self.db) if is_postgresql(config.db_path) else Clock())
        self.keys = KeyRing.load_or_create(config.key_file)
        self.db.sealer = self.keys  # personal values sealed at rest (sync/hub/privacy.py)
        migrate(self.db, self.clock)
        privacy.seal_at_rest(self.db, self.keys)
        self.subscribers = Subscribers(self.db, configured(config["subscribers"]), self.clock,
                                       site=config["site.name"], deadline_s=config["site.subscriber_deadline_s"],
                                       backoff=Backoff(config["site.backoff_base_s"], config["site.backoff_cap_s"]),
                                       holder=uuid.uuid4().hex) if config["subscribers"] else None
        if self.subscribers is not None:
            self.db.outlet = self.subscribers.enqueue
        self._last_purge = -1e18
        self.load = LoadGauge(config["load.shed_pct"])  # above it, the charts step aside (sync/common/load.py)
        self.charts: dict[str, Any] = {}  # the dashboard's charts last drawn (shown again while the hub is busy)
        self.rules = store.FlowRules(config["escalation.first_after_min"], config["escalation.second_after_min"],
                                     (policies.on_confirmation,))
        url = config["site.upstream_url"]
        self.client = UpstreamClient(url, deadline_s=config["site.deadline_s"], clock=self.clock,
                                     token=config["site.upstream_token"] or None, user_agent="packgate-site/1",
                                     ca_file=config["site.upstream_ca_file"] or None) if url else None
        self.relay = Relay(self.db, self.client, self.clock, batch_size=config["site.batch_size"],
                           senders=config["site.relay_senders"], pace_s=config["site.relay_pace_s"],
                           backoff=relay_backoff or Backoff(config["site.backoff_base_s"], config["site.backoff_cap_s"]),
                           outage=(StorageError,))
        self.escalator = Escalator(self.db, notifier or Notifier(config["escalation.notify"], now=self.clock.now), self.clock,
                                   retry_s=config["escalation.retry_s"], station_name=config.station_name,
                                   code=config["site.code"], senders=config["escalation.senders"])
        # one channel set (and its failure state) unless alerts and reports name their own
        self._alert_notifier = Notifier(config["alerts.notify"], now=self.clock.now) if config["alerts.notify"] else None
        self._report_notifier = Notifier(config["reports.notify"], now=self.clock.now) if config["reports.notify"] else None
        self.alerts = alerts.AlertEngine(self.db, self.clock, parse_rules(config["alerts.rules"]), self.notifiers,
                                         station_name=config.station_name,
                                         retry_s=config["escalation.retry_s"], senders=config["escalation.senders"],
                                         channels=self.channels)
        self.schedule = reports.Schedule(reports.parse_at(config["reports.daily_at"]) or reports.time(2), self.clock,
                                         config["site.name"])
        self.long_polls = LongPolls(config["feed.max_waits_per_station"], config["site.threads"])
        self.feed = FeedWatch(self.db, seal_s=config["feed.seal_s"])
        self.metrics = HubMetrics(self.snapshot)
        self.reference_pages = ReferencePages(self.db)
        self.writer = GroupCommit(self.db, observe=self.metrics.committed)
        self.ticker = Ticker("hub-ticker", self._tick_pass, every_s=TICK_S, clock=self.clock, logger=log,
                             what="hub tick", outage=(StorageError,))
        self.puller = Ticker("hub-orders", self._pull_pass, every_s=config["site.orders_s"], clock=self.clock,
                             logger=log, what="pulling the WMS's order changes", outage=(StorageError,))
        self._last_refresh = -1e18
        self.holder = uuid.uuid4().hex  # the leases of the jobs one hub does at a time; its host:port once serving

    # ---- lifecycle ------------------------------------------------------------------------
    def serving_on(self, port: int) -> None:
        """The server is bound to ``port``: this hub's stable name among the site's hubs (the holder of its leases) is
        its host and port, which no other live hub can share (the port would be taken). Called before ``start()``:
        a restarted hub takes its own predecessor's lease back at once."""
        self.holder = self.relay.lease.holder = f"{socket.gethostname()}:{port}"  # a new name: taken at the next pass
        if self.subscribers is not None:
            self.subscribers.lease.holder = self.holder

    def start(self) -> "Hub":
        if self.checkpointer is not None:
            self.checkpointer.start()
        self.feed.start()
        self.relay.start()
        if self.subscribers is not None:
            self.subscribers.start()
        self.ticker.start()
        return self.start_order_pull()

    def start_order_pull(self) -> "Hub":
        """Pull the WMS's order decisions every ``site.orders_s`` (``start`` does it)."""
        if self.client is not None:
            self.puller.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the relay, the ticker, the order pull and the feed watcher; True if all ended within ``timeout``."""
        return stop_all((self.relay, self.subscribers, self.ticker, self.puller, self.feed, self.checkpointer), timeout)

    def stop_order_pull(self) -> None:
        self.puller.stop()

    def _tick_pass(self) -> None:
        self.tick()

    def _pull_pass(self) -> None:
        self.pull_orders()

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
            ttl = max(REFRESH_LEASE_S, 3 * self.config["site.refresh_s"])
            if self.db.run(lambda conn: store.take_lease(conn, "reference", self.holder, self.clock.now(), ttl)):
                out["reference"] = reference.refresh(self.db, self.client, self.clock)
            else:  # another hub of the site pulls it (twice would write every row twice, with new versions)
                out["reference"] = {"ok": True, "changed": 0, "standby": True}
        out["escalations"] = self.escalator.tick()
        if self.clock.monotonic() - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = self.clock.monotonic()
            out["purged"] = self.purge_personal()
        out["schedule"] = self.schedule.tick(self)
        out["alerts"] = self.alerts.tick()
        out["stock_alerts"] = policies.notify_due(self.db, self.notifiers()[0], self.clock)  # stock alerts
        self.notify_feed()
        return out

    def purge_personal(self) -> list[str]:
        """Clear the personal data of the orders handed over more than ``privacy.retention_days`` ago."""
        return privacy.purge(self.db, self.clock.now(), self.config["privacy.retention_days"])

    def notifiers(self) -> tuple[Notifier, Notifier]:
        """The channels of the alerts and of the day report: their own, else the escalations'."""
        alert = self._alert_notifier or self.escalator.notifier
        return alert, self._report_notifier or alert

    def channels(self) -> list[dict[str, Any]]:
        """Every notification channel of the site (escalations, alerts, reports) with its state, each set once;
        ``alerts``: the alerts go through it."""
        alert, report = self.notifiers()
        seen: list[Notifier] = []
        out: list[dict[str, Any]] = []
        for notifier, purpose in ((self.escalator.notifier, "escalations"), (alert, "alerts"), (report, "reports")):
            if any(notifier is other for other in seen):
                continue
            seen.append(notifier)
            out += [{**channel, "for": purpose, "alerts": notifier is alert} for channel in notifier.channels()]
        return out

    # ---- alerts and reports ---------------------------------------------------------------------------------
    def reconcile(self, day: date, *, replace: bool = True) -> dict[str, Any]:
        """Reconcile ``day`` (hub-local) with the WMS for every station and the hub's own code; kept for the report."""
        if self.client is None:
            raise HubRequestError("no WMS configured (site.upstream_url): nothing to reconcile with", 409)
        stations = sorted(self.config["stations"]) + [self.config["site.code"]]
        return reconciliation.run(self.db, self.client, day, stations, self.clock.now(), replace=replace)

    def acknowledge_alert(self, ident: str, who: str, where: str | None = None) -> dict[str, Any]:
        now = self.clock.now()

        def ack(conn: Conn) -> dict[str, Any]:
            employee = store.ref_get(conn, "employees", who)
            if employee is None or employee.get("role") != "supervisor":
                raise HubRequestError(f"{who} is not a supervisor of this site", 403)
            done = alerts.acknowledge(conn, ident, who, now, where)
            rule, _, subject = ident.partition("/")
            row = alerts.get(conn, rule, subject) or {}
            return {"acknowledged": done, "acked_by": row.get("acked_by"),
                    "acked_by_name": store.employee_name(conn, row.get("acked_by"))}

        return self.db.run(ack)

    def notify_feed(self) -> None:
        """Read changes of other hub processes now (the watcher does it every 0.1 s by itself)."""
        self.feed.poke()

    # ---- station requests -----------------------------------------------------------------
    def receive(self, station: str, items: list[Any]) -> list[dict[str, Any]]:
        checked = store.check(station, items)  # before the writer queue: it holds the database for statements only
        results = self.writer.run_many(self._receive, (station, checked))
        self.metrics.received(results)
        self.relay.wake()
        if self.subscribers is not None:
            self.subscribers.wake()
        return results

    def _receive(self, conn: Conn, batches: list[tuple[str, list[store.Checked]]]) -> list[list[dict[str, Any]]]:
        return store.receive_many(conn, batches, self.clock.now(), self.rules)

    def claim(self, station: str, order_id: str, operator: str | None, *, renew: bool = False) -> dict[str, Any]:
        """Claim ``order_id`` for ``station``. ``renew``: the table keeps what it has open (a heartbeat, or back
        from working offline), which a supervisor's release refuses; a fresh claim (an order opened now) does not."""
        now = self.clock.now()
        return self.db.run(lambda conn: self._claim(conn, now, station, order_id, operator, renew))

    def _claim(self, conn: Conn, now: datetime, station: str, order_id: str, operator: str | None,
               renew: bool) -> dict[str, Any]:
        order = store.get_order(conn, order_id)
        if order is not None and order.get("wms_status") == "cancelled" and order["stage"] not in store.TERMINAL:
            raise ClaimConflictError(f"{order_id} was cancelled by the WMS ({order.get('wms_reason') or 'no reason'})",
                                     {"order_id": order_id, "stage": "cancelled", "station": order.get("station")})
        if order is not None and order["stage"] in store.TERMINAL:
            where = self.config.station_name(order.get("packed_by") or order.get("station") or "?")
            raise ClaimConflictError(f"{order_id} is already {order['stage']} (at {where})",
                                     {"order_id": order_id, "stage": order["stage"], "station": order.get("station")})
        # the claim's row first (PostgreSQL: waits for a release deleting it to commit), then the releases: a
        # renewal read before a supervisor's release committed never writes the claim back after it
        current = store.lock_claim(conn, order_id)
        released = store.released_from(conn, order_id, station) if renew else None
        if released is not None and (current or {}).get("station") != station:
            decision = self._decision(conn, released)
            raise ClaimConflictError(f"{order_id} was released from {self.config.station_name(station)} by"
                                     f" {decision['by_name']}: {decision['reason']}", {"released": decision})
        if not renew:
            store.forget_release(conn, order_id)
        held = store.claim(conn, order_id, station, operator, now, self.config["claims.expire_after_s"])
        if held is not None:
            person = store.employee_name(conn, held.get("operator")) or "someone"
            raise ClaimConflictError(f"{order_id} is being packed at {self.config.station_name(held['station'])}"
                                     f" by {person}", {**held, "operator_name": person,
                                                       "table": self.config.station_name(held["station"])})
        return store.get_claim(conn, order_id) or {}

    def release(self, order_id: str, *, station: str | None = None, supervisor: str | None = None,
                reason: str = "") -> dict[str, Any]:
        """A table lets its claim go, or a supervisor takes it from the table (a decision: a reason is required,
        it is audited, and the table is told who and why through the feed and its next heartbeat)."""
        now = self.clock.now()
        why = reason.strip()
        if supervisor is not None and not why:
            raise HubRequestError("a reason is required to release a claim (the table is told who released it and why)")

        def release(conn: Conn) -> dict[str, Any]:
            held = store.get_claim(conn, order_id)
            if held is None:
                raise HubRequestError(f"{order_id} is not claimed", 404)
            if station is not None and held["station"] != station:
                raise HubRequestError(f"{order_id} is claimed by {held['station']}, not {station}; a supervisor can"
                                      " release it from the dashboard", 403)
            if supervisor is None:
                store.release_claim(conn, order_id, now, "released")
                return held
            decision = {"by": supervisor, "by_name": store.employee_name(conn, supervisor) or supervisor, "reason": why}
            store.release_claim(conn, order_id, now, "supervisor", decision)
            store.audit(conn, now, supervisor, "release_claim", order_id, held, {"reason": why})
            return held

        return self.db.run(release)

    def heartbeat(self, station: str, beat: dict[str, Any]) -> dict[str, Any]:
        """Record the beat and renew the table's claims. Returns the hub's time, the supervisors' releases of the
        order the table says it has open (``released``: the table drops it) and, with ``beat["clock"]`` (the
        station's time when it sent the beat), the station's clock offset and whether it is past
        ``clock.warn_after_s`` (its kiosk warns then)."""
        now = self.clock.now()
        sent = beat.pop("clock", None)
        offset = None if sent is None else round((sent - now).total_seconds(), 3)
        beat["clock_offset_s"] = offset

        def beat_tx(conn: Conn) -> list[dict[str, Any]]:
            store.heartbeat(conn, station, beat, now)
            store.renew_station_claims(conn, station, now, self.config["claims.expire_after_s"])
            order_id = beat.get("order_id")
            released = store.released_from(conn, order_id, station) if order_id else None
            if released is None or (store.get_claim(conn, str(order_id)) or {}).get("station") == station:
                return []
            return [self._decision(conn, released)]

        released = self.writer.run(beat_tx)
        answer: dict[str, Any] = {"time": isoformat(now), "released": released}
        if offset is not None:
            answer.update(clock_offset_s=offset, clock_warning=abs(offset) > self.config["clock.warn_after_s"],
                          clock_warn_after_s=self.config["clock.warn_after_s"])
        return answer

    @staticmethod
    def _decision(conn: Conn, released: dict[str, Any]) -> dict[str, Any]:
        return {"order_id": released["order_id"], "by": released["by"], "reason": released["reason"],
                "at": released["at"], "by_name": store.employee_name(conn, released["by"]) or released["by"]}

    # ---- escalations, as every supervisor page of the site shows them ------------------------------
    def open_escalations(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = store.open_escalations(conn)
        after = dict(self.rules.levels)
        out = []
        for row in rows:
            picked = (json.loads(row["milestones"]) if row.get("milestones") else {}).get("picked")
            level = int(row["level"])
            out.append({"id": f"{row['order_id']}/{level}", "order_id": row["order_id"], "level": level,
                        "sent_at": row["sent_at"], "picked_at": picked, "notified": row["channels"] != 0,
                        "deadline": isoformat(parse_iso(picked) + after[level]) if picked and level in after else None,
                        "station": row["station"],
                        "table": self.config.station_name(row["station"]) if row["station"] else None})
        return out

    def acknowledge(self, order_id: str, level: int, who: str, terminal: str | None = None) -> dict[str, Any]:
        """``who`` (a supervisor; 403 otherwise) acknowledges (order, level) at ``terminal``: ``acknowledged`` (now),
        ``acked_by`` (whoever did, now or before); 404 when the site has no such escalation."""
        now = self.clock.now()

        def ack(conn: Conn) -> dict[str, Any]:
            employee = store.ref_get(conn, "employees", who)
            if employee is None or employee.get("role") != "supervisor":
                raise HubRequestError(f"{who} is not a supervisor of this site", 403)
            done = store.acknowledge(conn, order_id, level, who, now, self.config["site.code"], terminal)
            row = next((e for e in store.escalations(conn, order_id) if int(e["level"]) == level), None)
            if row is None:
                raise HubRequestError(f"no escalation {order_id}/{level} on this site", 404)
            return {"acknowledged": done, "acked_by": row["acked_by"],
                    "acked_by_name": store.employee_name(conn, row["acked_by"])}

        return self.db.run(ack)

    # ---- conflicts to resolve, on every station's supervisor page --------------------------------------------
    def open_conflicts(self, kind: str = store.ORDER_CANCELLED) -> list[dict[str, Any]]:
        """The site's conflicts of ``kind`` not resolved yet (by default the packs and hand-overs the WMS refused
        because it had cancelled the order), with the table that made them."""
        with self.db.read() as conn:
            rows = store.open_conflicts_of(conn, kind)
        out = []
        for row in rows:
            detail = row["detail"] if isinstance(row["detail"], dict) else {}
            station = detail.get("station")
            out.append({"n": row["n"], "at": row["at"], "kind": row["kind"], "order_id": row["subject"],
                        "action": detail.get("action"), "station": station,
                        "table": self.config.station_name(station) if station else None,
                        "reason": detail.get("reason"), "wms_reason": detail.get("wms_reason"),
                        "confirmation": detail.get("confirmation")})
        return out

    def resolve_conflict(self, n: int, who: str, note: str, terminal: str | None = None) -> dict[str, Any]:
        """``who`` (a supervisor; 403 otherwise) resolves conflict ``n`` with a note (400 without one): ``resolved``
        (now), ``resolved_by`` (whoever did, now or before); 404 when the site has no such conflict."""
        now = self.clock.now()
        note = note.strip()
        if not note:
            raise HubRequestError("a note of what was done with the parcel is required to resolve a conflict")

        def resolve(conn: Conn) -> dict[str, Any]:
            employee = store.ref_get(conn, "employees", who)
            if employee is None or employee.get("role") != "supervisor":
                raise HubRequestError(f"{who} is not a supervisor of this site", 403)
            row = store.resolve_conflict(conn, n, who, note, now, terminal)
            if row is None:
                raise HubRequestError(f"no conflict {n} on this site", 404)
            detail = json.loads(row["detail"]) if isinstance(row["detail"], str) else {}
            return {"n": n, "order_id": row["subject"], "kind": row["kind"], "action": detail.get("action"),
                    "resolved": row["resolved"],
                    "resolved_by": row["resolved_by"], "resolved_by_name": store.employee_name(conn, row["resolved_by"])}

        return self.db.run(resolve)

    # ---- the site's dock ---------------------------------------------------------------------------------
    def parcel(self, code: str, hold_for: tuple[str, str, str | None] | None = None) -> dict[str, Any]:
        """The facts of the parcel a label names (an order id or any of its waybills): stage, where and by whom it
        was packed, the batch that holds it, its WMS status and carrier. ``hold_for`` (batch, station, operator):
        take it for that batch when it is packed and no batch holds it (``taken``: by this call). 404: unknown."""
        now = self.clock.now()

        def look(conn: Conn) -> dict[str, Any]:
            order_id, waybill = parcels.order_of(conn, code)
            if order_id is None:
                raise HubRequestError(f"{code} is not a parcel or an order known on this site", 404)
            order = store.get_order(conn, order_id)
            taken = False
            if hold_for is not None and (order or {}).get("stage") == "packed":
                batch_id, station, operator = hold_for
                taken = parcels.hold(conn, order_id, batch_id, station, operator, now)
            return self._facts(conn, order_id, waybill, order, parcels.get(conn, order_id), taken)

        if hold_for is None:
            with self.db.read() as conn:
                return look(conn)
        return self.db.run(look)

    def give_back(self, order_id: str, batch_id: str) -> bool:
        return self.db.run(lambda conn: parcels.give_back(conn, order_id, batch_id))

    def _facts(self, conn: Conn, order_id: str, waybill: str | None, order: dict[str, Any] | None,
               parcel: dict[str, Any] | None, taken: bool) -> dict[str, Any]:
        ref = store.ref_get(conn, "orders", order_id) or {}
        parcel = parcel or {}
        name = self.config.station_name
        return {"order_id": order_id, "waybill": waybill or parcel.get("waybill"),
                "stage": (order or {}).get("stage") or "open", "packed_at": parcel.get("packed_at"),
                "packed_station": parcel.get("station"),
                "packed_table": name(parcel["station"]) if parcel.get("station") else None,
                "packed_by": parcel.get("operator"), "batch_id": parcel.get("batch_id"),
                "batch_table": name(parcel["batch_station"]) if parcel.get("batch_station") else None,
                "shipped_at": parcel.get("shipped_at"), "taken": taken,
                "carrier": policies.carrier_of(conn, order_id) or ref.get("carrier"),  # a table's switch
                # the WMS's word as the order pull and the reference refresh keep it (store.wms_word)
                "wms": {"status": (order or {}).get("wms_status"), "reason": (order or {}).get("wms_reason"),
                        "at": (order or {}).get("wms_at"), "revision": (order or {}).get("wms_revision")}}

    def decide_review(self, order_id: str, decision: str, supervisor: str, reason: str) -> dict[str, Any]:
        """A supervisor signed in at the dashboard approves or refuses an order under review (``policies.decide``)."""
        now = self.clock.now()
        return self.db.run(lambda conn: policies.decide(conn, now, self.config["site.code"], order_id, decision,
                                                        supervisor, reason))

    def set_carrier(self, supervisor: str, form: dict[str, str]) -> dict[str, Any]:
        """A supervisor's carrier rule from the dashboard (``policies.set_carrier``)."""
        now = self.clock.now()
        return self.db.run(lambda conn: policies.set_carrier(
            conn, now, form.get("carrier", ""), form.get("regions", ""), form.get("daily_cap", ""),
            form.get("backup", ""), form.get("reason", ""), supervisor))

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
                                 "acked_by": e["acked_by"], "id": f"{order_id}/{e['level']}",
                                 "held_since": e["held_at"]} for e in escalations]}

    def snapshot(self) -> dict[str, Any]:
        """What ``/metrics`` reads when scraped: the relay's queue and the feed's state."""
        with self.db.read() as conn:
            relay = store.relay_status(conn, self.clock.now())
            alerts_open = alerts.open_count(conn)
        feed = self.feed
        return {"relay": relay, "alerts_open": alerts_open,
                "feed": {"head": feed.head, "sealed": feed.sealed, "streams": feed.streams, "waiting": feed.waiting,
                         "batches": feed.sealed_batches, "changes": feed.sealed_changes}}
