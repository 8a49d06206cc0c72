"""The station agent: wires devices, the station, the outbox worker, reference refresh (and, talking to the WMS
directly, the fast pull of the orders it changed, ``upstream.orders_s``: interception), the escalation timer, the
site hub link (claims, change feed, heartbeats; ``upstream.kind = "hub"``) and the web server together, and stops
them all cleanly.

Every background job is a ``Loop`` (``sync.common.loop``) on the agent's clock: the outbox worker, the WAL
checkpointer, the feed follower and the tickers below (reference refresh, order changes without a hub, timers,
status, prune, labels, site heartbeat, learning weights with ``weighing.gate = "learned"``). None dies of an
exception (logged once per change of state, retried with backoff), and ``stop()`` ends them together. A
``reference`` change on the hub's feed wakes the reference refresh at once (a wave of orders the WMS released
reaches the table in seconds, not at the next ``upstream.refresh_s``)."""
from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from typing import Any

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.station import migrations
from packgate.station.events import EventBus
from packgate.station.runtime.config import Config
from packgate.station.runtime.devices import Devices
from packgate.station.runtime.logs import forget_station, station_threads
from packgate.station.service import Station
from packgate.station.web.app import create_app, load_secret
from packgate.station.web.serving import make_server, station_gate
from packgate.sync.client import UpstreamClient
from packgate.sync.common import sealing
from packgate.sync.common.checkpoint import Checkpointer
from packgate.sync.common.db import connect
from packgate.sync.common.loop import Loop, Ticker, stop_all
from packgate.sync.common.notify import Notifier
from packgate.sync.hub_client import FeedFollower, SiteClient
from packgate.sync.outbox import Outbox, prune_sent
from packgate.sync.reference import ReferenceCache
from packgate.sync.worker import OutboxWorker

log = logging.getLogger("packgate.agent")


class Agent:
    STATUS_EVERY_S = 1.0  # also how often a silent scale is noticed (scale.fresh_s)
    PRUNE_EVERY_S = 3600.0
    def __init__(self, cfg: Config, *, clock: Clock | None = None, port: int | None = None,
                 device_ports: dict[str, str] | None = None, start_devices: bool = True):
        self.cfg = cfg
        self.clock = clock or Clock()
        self.port = port if port is not None else cfg["web.port"]
        data_dir = cfg.data_dir
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # the database, the secret and the logs: the agent's user only
        self.db_path = str(data_dir / "station.db")
        self.checkpointer = Checkpointer(self.db_path)  # first: the connections below read its backstop
        if cfg["privacy.key_file"]:
            sealing.place_key(self.db_path, cfg.key_file)
        steps = migrations.upgrade_file(self.db_path, self.clock)  # before anything reads the file
        if steps:
            log.info("station.db schema: %s", ", ".join(f"{d.owner} {d.version} {d.how}" for d in steps))
        self.bus = EventBus()
        self.timers = Ticker("timers", self._timers_pass, every_s=60.0, clock=self.clock, logger=log, what="timer tick")
        ca_file = cfg["upstream.ca_file"] or None
        self.client = UpstreamClient(cfg["upstream.url"], deadline_s=cfg["upstream.deadline_s"], clock=self.clock,
                                     token=cfg["upstream.token"] or None, ca_file=ca_file)
        self.site_client = SiteClient(cfg["upstream.url"], cfg["station.id"], cfg["upstream.token"],
                                      deadline_s=cfg["hub.claim_timeout_s"],
                                      ca_file=ca_file) if cfg["upstream.kind"] == "hub" else None
        self.outbox = Outbox(self.db_path, cfg["station.id"], self.clock)
        self.cache = ReferenceCache(self.db_path, self.client, self.clock)
        self.worker = OutboxWorker(self.db_path, self.client, self.clock, batch_size=cfg["upstream.batch_size"],
                                   backoff=Backoff(base_s=cfg["upstream.backoff_base_s"], cap_s=cfg["upstream.backoff_cap_s"]))
        ports = device_ports or {}
        self.label_client, self.printer = self._label_devices(cfg, ports.get("printer"))
        self.station = Station(cfg, db_path=self.db_path, cache=self.cache, outbox=self.outbox, clock=self.clock,
                               bus=self.bus, notifier=Notifier(cfg["escalation.notify"]), wake=self._wake,
                               label_upstream=self.label_client, printer=self.printer, site=self.site_client)
        self.cache.on_update = self.station.on_reference  # the WMS's word, in the page's transaction
        self.feed = FeedFollower(self.site_client, self._on_site_change, data_dir / "site-feed.cursor",
                                 clock=self.clock, wait_s=cfg["hub.feed_wait_s"]) if self.site_client else None
        self.devices = Devices(cfg, on_badge=self.station.on_badge, on_scan=self.station.on_scan,
                               on_reading=self.station.on_reading, on_state=self.station.on_device_state,
                               on_bad_input=self.station.on_bad_input,
                               scale_port=ports.get("scale"), scanner_port=ports.get("scanner"),
                               badge_reader=ports.get("badge"))
        self.start_devices = start_devices
        tls = bool(cfg["web.tls_cert"])
        self.app = create_app(self.station, secret_key=load_secret(data_dir),
                              api_tokens=tuple(cfg["web.api_tokens"]), secure_cookies=tls,
                              hosts=cfg["web.allowed_hosts"], web_host=cfg["web.host"],
                              metrics_public=cfg["web.metrics_public"], cookie=cfg["web.cookie_name"])
        if not tls and cfg["web.host"] not in ("127.0.0.1", "::1", "localhost"):
            log.warning("serving plain HTTP on %s: PINs and sessions cross the Wi-Fi readable; set web.tls_cert and "
                        "web.tls_key", cfg["web.host"])
        self.refresher = Ticker("reference-refresh", self._refresh_pass, every_s=cfg["upstream.refresh_s"],
                                clock=self.clock, logger=log, what="reference refresh")
        self.status = Ticker("status", self._status_pass, every_s=self.STATUS_EVERY_S, run_at_start=False,
                             clock=self.clock, logger=log, what="status push")
        self.pruner = Ticker("prune", self._prune_pass, every_s=self.PRUNE_EVERY_S, clock=self.clock, logger=log,
                             what="pruning acknowledged confirmations")
        self.labeller = Ticker("labels", self._label_pass, every_s=1.0, clock=self.clock, logger=log,
                               what="label tick") if self.station.labels is not None else None
        self.heartbeat = Ticker("site-heartbeat", self._heartbeat_pass, every_s=cfg["hub.heartbeat_s"],
                                signal=self.station.site.wake, clock=self.clock, logger=log,
                                what="site heartbeat") if self.feed is not None else None
        self.orders = Ticker("order-changes", self._orders_pass, every_s=cfg["upstream.orders_s"], clock=self.clock,
                             logger=log, what="pulling order changes") if self.feed is None else None
        self.learner = Ticker("weights", self.station.weights.tick, every_s=cfg["weighing.learn_every_s"],
                              signal=self.station.weights.wake, clock=self.clock, logger=log, what="learning weights") \
            if self.station.weights.enabled else None
        self._last_reserve: float | None = None
        self._threads: list[threading.Thread] = []
        self._server: Any = None

    def _label_devices(self, cfg: Config, printer_port: str | None) -> tuple[Any, Any]:
        """The label contract's client (its own connection) and the printer, when the label gate is on."""
        if cfg["label.mode"] == "none":
            return None, None
        from packgate.device.profiles import get_profile
        from packgate.station.labels import StationPrinter

        client = UpstreamClient(cfg["upstream.url"], deadline_s=min(cfg["upstream.deadline_s"], 5.0), clock=self.clock,
                                token=cfg["upstream.token"] or None, ca_file=cfg["upstream.ca_file"] or None)
        printer = StationPrinter(printer_port or cfg["printer.port"], get_profile(cfg["printer.profile"])) \
            if cfg["label.mode"] == "print" else None
        return client, printer

    @property
    def loops(self) -> list[Loop[Any]]:
        """Every background loop of the agent (started by ``start()``, stopped together by ``stop()``)."""
        optional = [self.feed, self.orders, self.labeller, self.heartbeat, self.learner]
        return [self.worker, self.checkpointer, self.refresher, self.timers, self.status, self.pruner,
                *(loop for loop in optional if loop is not None)]

    def _wake(self) -> None:
        self.timers.wake()
        self.worker.wake()

    # ---- the tickers' passes ----------------------------------------------------------------
    def _label_pass(self) -> None:
        """The printer's state (and a label waiting for it), the verify reminder, offline labels, waybills ahead."""
        labels = self.station.labels
        assert labels is not None
        labels.tick()
        now = self.clock.monotonic()
        if self._last_reserve is None or now - self._last_reserve >= self.cfg["upstream.refresh_s"]:
            self._last_reserve = now
            labels.reserve_ahead()

    def _refresh_pass(self) -> None:
        result = self.cache.refresh()
        self.station.interception.announce()
        if not result["ok"]:
            log.warning("upstream reference data unavailable, working from the cache: %s", result["error"])

    def _orders_pass(self) -> None:
        """The orders the WMS held, cancelled, released or changed (the hub's feed does it in a site)."""
        self.cache.refresh_orders()
        self.station.interception.announce()

    def _timers_pass(self) -> float:
        """Sleep until the next escalation or idle deadline exactly (woken early by changes), at most a minute."""
        nxt = self.station.tick()
        return 60.0 if nxt is None else min(60.0, (nxt - self.clock.now()).total_seconds())

    def prune(self) -> int:
        """Delete confirmations upstream acknowledged more than ``upstream.keep_sent_h`` ago."""
        conn = connect(self.db_path)
        try:
            return prune_sent(conn, self.clock.now() - timedelta(hours=self.cfg["upstream.keep_sent_h"]))
        finally:
            conn.close()

    def _prune_pass(self) -> None:
        pruned = self.prune()
        if pruned:
            log.info("pruned %d acknowledged confirmation(s)", pruned)
        purged = self.station.purge_personal()
        if purged:
            log.info("purged the personal data of %d order(s) handed over more than %s day(s) ago", len(purged),
                     self.cfg["privacy.retention_days"])

    def _status_pass(self) -> float:
        """Push the sync status to the pages when it changes (queue depth, dead letters, upstream reachable)."""
        self.station.check_scale()
        self.station.push_sync()
        return self.STATUS_EVERY_S  # also how often a silent scale is noticed; read each time (tests shorten it)

    def _heartbeat_pass(self) -> None:
        """Heartbeat to the hub every ``hub.heartbeat_s`` (sooner when a claim is to be released)."""
        self.station.site.beat()

    def _on_site_change(self, event: dict[str, Any]) -> None:
        """A change from the hub's feed; new reference data (orders the WMS released) is pulled at once."""
        if event.get("kind") == "reference":
            self.refresher.wake()
        self.station.site.on_change(event)

    def _serve(self) -> None:
        gate = station_gate(self.cfg["web.header_timeout_s"], self.cfg["web.max_connections_per_client"])
        server = make_server(self.app, self.cfg["web.host"], self.port, gate=gate, tls_cert=self.cfg["web.tls_cert"],
                             tls_key=self.cfg["web.tls_key"])
        self._server = server
        self.port = server.bind_addr[1]
        self._served.set()
        server.serve()

    def start(self) -> "Agent":
        with station_threads(self.cfg["station.id"]):  # its readers, server and workers log as this station
            return self._start()

    def _start(self) -> "Agent":
        self._served = threading.Event()
        first = self.cache.refresh()
        self.station.interception.announce()
        if not first["ok"]:
            log.warning("starting offline: %s", first["error"])
        if self.start_devices:
            self.devices.start()
            self.station.camera = self.devices.camera
            self.station.video.attach(self.devices.camera)
        self.status.every_s = self.STATUS_EVERY_S
        for loop in self.loops:
            loop.start()
        thread = threading.Thread(target=self._serve, name="web", daemon=True)
        thread.start()
        self._threads.append(thread)
        self._served.wait(10)
        log.info("kiosk at http://%s:%s/  (PDA: /pda, supervisor: /supervisor)", self.cfg["web.host"], self.port)
        return self

    def stop(self) -> None:
        for loop in self.loops:
            loop.request_stop()
        self.bus.close()
        if self._server is not None:
            self._server.stop()
        for thread in self._threads:
            thread.join(3.0)
        self.devices.stop()
        stop_all(self.loops)
        self.client.close()
        self.cache.close()
        for part in (self.label_client, self.printer):
            if part is not None:
                part.close()
        self.station.close()
        forget_station(self.cfg["station.id"])

    @property
    def url(self) -> str:
        scheme = "https" if self.cfg["web.tls_cert"] else "http"
        return f"{scheme}://{self.cfg['web.host']}:{self.port}"


def wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def run_agent(cfg: Config) -> int:
    agent = Agent(cfg)
    agent.start()
    try:
        wait_for_signal()
    finally:
        log.info("stopping")
        agent.stop()
    return 0
