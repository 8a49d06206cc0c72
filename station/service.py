"""The station: turns actions (from its own devices and from the HTTP API) into verdicts.

One ``Station`` per packing table, a coordinator: it holds the lock and the one snapshot of what the
station knows (``parts.Live``), routes each input through ``core.intake`` to the pure state machines
(``packing.step``, ``picking.pick_step``) and commits the new session, the confirmations (outbox),
audit entries, milestones and the idempotent answer in ONE SQLite transaction; only after that commit
is the verdict shown. A failed commit (disk full, read-only) is an error verdict, never a false "done".

Its collaborators receive what they need (``parts.Parts``): the PDA desk (``pda.PdaDesk``), the
timers (``timers.EscalationTimers``), the read-only views (``views.StationViews``), the site hub's
claims and change feed (``site.SiteLink``) and interception (``interception.InterceptDesk``: every step of an
order the WMS held, cancelled or changed answers what ``core.interception`` says, before the pack machine runs).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import re
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from packgate.device.clock import Clock, isoformat
from packgate.device.scale.reading import Reading
from packgate.device.scanner.barcode import Scan, SitePatterns, interpret
from packgate.station import evidence, migrations, store, video
from packgate.station.carriers import CarrierDesk
from packgate.station.core import carrier_rules, device_states, intake
from packgate.station.core import escalation as esc_rules
from packgate.station.core import interception as intercept_rules
from packgate.station.core import labels as lb
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station.core import release as release_rules
from packgate.station.core.catalog import ReferenceRows, StationCatalog
from packgate.station.core.effects import AuditEntry, Confirmation, Outcome
from packgate.station.core.models import Employee, LotPolicy, Role
from packgate.station.core.texts import Word
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.core.verdicts import REFUSALS, Verdict, answer, bad_field, make
from packgate.station.dock import DockDesk
from packgate.station.events import EventBus
from packgate.station.hub_link import SiteLink
from packgate.station.interception import InterceptDesk, wms_row
from packgate.station.labels import LabelDesk, template_for
from packgate.station.parts import KIOSK, Live, Parts, Settings, site_patterns
from packgate.station.pda import PdaDesk
from packgate.station.per_item_desk import ItemDesk
from packgate.station.ports import Camera, LabelPrinter, LabelUpstream, Notifier, Outbox, SiteHub
from packgate.station.privacy import PrivacyDesk
from packgate.station.returns import ReturnDesk
from packgate.station.review import ReviewDesk
from packgate.station.signin import PinCheck
from packgate.station.stock_watch import StockWatch
from packgate.station.timers import EscalationTimers
from packgate.station.views import DEFAULT_LIMIT, PageQuery, StationViews
from packgate.station.weights import TableWeights
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.load import LoadGauge
from packgate.sync.errors import StorageError, SyncError

SITE_CONFLICT_ID = re.compile(r"hub~(?P<n>[0-9]{1,18})")  # one of the site's conflicts (the hub's number)
log = logging.getLogger("packgate.station")

ACTIONS = ("badge", "scan", "pick", "verify", "weigh", "reweigh", "pack", "load", "override", "fifo_take_older",
           "put_back", "cancel", "sign_out", "close_carton", "reprint", "print_label", "review", "switch_carrier")
REVIEW_WORDS = {"approve": "approved", "refuse": "refused"}
AMBIGUOUS_BY_SCAN = {"badge": ("badge",), "order": ("order",), "tote": ("tote",), "unknown": ("order", "tote")}
UNUSABLE_SCAN = frozenset({"unknown_order", "unknown_item", "unknown_packaging", "not_allowed_now", "wrong_code_here"})
LocalWrites = Callable[[Any], None]
Meta = dict[str, Any]


class Station:
    def __init__(self, cfg: Settings, *, db_path: str, cache: ReferenceRows, outbox: Outbox, clock: Clock | None = None,
                 bus: EventBus | None = None, notifier: Notifier | None = None, camera: Camera | None = None,
                 patterns: SitePatterns | None = None, wake: Callable[[], None] | None = None,
                 label_upstream: LabelUpstream | None = None, printer: LabelPrinter | None = None,
                 site: SiteHub | None = None):
        self.cfg = cfg
        self.id: str = cfg["station.id"]
        self.location: str = cfg["station.location"]
        self.clock = clock or Clock()
        self.bus = bus or EventBus()
        self.outbox = outbox
        self.camera = camera
        self.wake = wake or (lambda: None)
        conn = connect(db_path)
        migrations.upgrade(conn, self.clock)  # before the first read (the agent has upgraded the file already)
        self.frames = evidence.FrameRing()  # the raw scale frames a weighing is judged on (evidence)
        sessions = store.load_sessions(conn)
        pack = pk.PackSession.from_dict(sessions[KIOSK]) if KIOSK in sessions else pk.PackSession(station=self.id)
        live = Live(pack=pack, picks={terminal.split(":", 1)[1]: pick.PickSession.from_dict(snapshot)
                                      for terminal, snapshot in sessions.items()
                                      if terminal.startswith("pda:") and snapshot},
                    last_activity=self.clock.now() if pack.operator else None)
        self.parts = Parts(
            cfg=cfg, clock=self.clock, conn=conn, lock=threading.RLock(),
            catalog=StationCatalog(cache, lambda order_id: store.order_row(conn, order_id),
                                   lambda order_id: wms_row(conn, order_id)),
            outbox=outbox, bus=self.bus, patterns=patterns or site_patterns(cfg), live=live,
            tolerance=ToleranceConfig.from_settings(
                str(cfg["weighing.tolerance_pct"]),
                {k: str(v) for k, v in cfg["weighing.category_tolerance_pct"].items()},
                use_floor=cfg["weighing.use_floor"], floor_table=cfg["weighing.floor_table"]),
            escalation=esc_rules.EscalationConfig.from_minutes(cfg["escalation.first_after_min"],
                                                               cfg["escalation.second_after_min"]),
            lot_policy=LotPolicy(cfg["lots.policy"]), load=LoadGauge(float(cfg["load.shed_pct"])))
        self.weights = TableWeights(self.parts, site)  # the learned weight gate (station/weights.py)
        self.items = ItemDesk(self.parts, self.weights)  # weighing.mode = "per_item" (station/per_item_desk.py)
        live.scale.fresh_s, live.scale.monotonic = float(cfg["scale.fresh_s"]), self.clock.monotonic
        self._scale_shown = live.scale.responding()
        self.catalog = self.parts.catalog
        self.interception = InterceptDesk(self.parts, self._on_words)
        self.reviews = ReviewDesk(self.parts)  # site policies: order review, carrier rules, stock thresholds
        self.carriers = CarrierDesk(self.parts)
        self.stock = StockWatch(self.parts, notifier)
        self.site = SiteLink(self.parts, site, self._publish_state, self.on_released, self.interception)
        self.site.reviewed = self.on_review_decided
        self.site.on_weights = self.weights.wake.set  # the site's weights changed: the weights loop takes them now
        self.catalog.cache = self.site.lots(cache)  # lot stock counts the units taken anywhere on the site
        self.views = StationViews(self.parts, self.info, self.site.escalations, self.interception.view,
                                  lambda s: self.reviews.pending(s.order.order_id if s.order else None),
                                  site_conflicts=self.site.conflicts)
        self.pins = PinCheck(self.parts)
        self.privacy = PrivacyDesk(self.parts, self.pins, float(cfg["privacy.retention_days"]))
        self.desk = PdaDesk(self.parts, self.commit, self.wake, self.views.employee_view, self.pins)
        # the outbound hand-over to carriers (station/dock.py)
        self.dock = DockDesk(self.parts, self.site, self._stop_parcel, self.carriers.carrier_of)
        self.timers = EscalationTimers(self.parts, notifier, self._pack_step, self.wake, self._publish_state)
        self.labels = LabelDesk(self.parts, self._pack_step, self._show, self._device_state,
                                template=template_for(cfg), upstream=label_upstream, printer=printer,
                                stop=self._stop_step, revision=self._revision) if cfg["label.mode"] != "none" else None
        self.video = video.PackingVideo(self.parts, Path(db_path).parent / "clips",  # station/video.py
                                        enabled=bool(cfg["camera.enabled"] and cfg["video.enabled"]), camera=camera)
        # returns at the table (station/returns.py): the kiosk in Returns mode and a PDA at the dock
        self.returns = ReturnDesk(self.parts, self.pins, self._photo, self._stable_grams, self.video.start_return,
                                  self.video.seal_return)

    # ------------------------------------------------------------------ what the station knows
    @property
    def live(self) -> Live:
        return self.parts.live

    @property
    def pack(self) -> pk.PackSession:
        return self.parts.live.pack

    @property
    def picks(self) -> dict[str, pick.PickSession]:
        return self.parts.live.picks

    @property
    def scale(self) -> dict:
        return self.parts.live.scale.view()

    @property
    def devices(self) -> dict[str, dict]:
        return self.parts.live.devices

    @property
    def verdict(self) -> dict | None:
        return self.parts.live.verdict

    def device_id(self, name: str) -> str:
        return self.parts.device_id(name)

    def info(self) -> dict:
        return {"id": self.id, "name": self.cfg["station.name"], "language": self.cfg["station.language"]}

    # ------------------------------------------------------------------ collaborators' entry points
    def state(self) -> dict:
        return self.views.state()

    def sync_status(self) -> dict:
        return self.views.sync_status()

    def health(self) -> dict:
        return self.views.health()

    def metrics(self) -> str:
        return self.views.metrics()

    def supervisor_overview(self, viewer: str | None = None, limit: int = DEFAULT_LIMIT) -> dict:
        overview = self.views.supervisor_overview(viewer, limit)
        with self.parts.lock:  # the site policies: reviews, stock alerts, carrier rules and switches
            return {**overview, "reviews": self.reviews.listing(limit), "stock_alerts": self.stock.listing(limit),
                    "carriers": self.carriers.listing(limit)}

    def priority_orders(self) -> list[dict]:
        """Orders released to any packer by an escalation (the PDA shows them too)."""
        return self.views.priority_orders()

    def list_page(self, kind: str, query: PageQuery, viewer: str | None = None) -> dict:
        return self.views.page(kind, query, viewer)

    def counts(self) -> dict:
        return self.views.counts()

    def employee_view(self, employee_id: str | None, viewer: str | None) -> dict | None:
        return self.views.employee_view(employee_id, viewer)

    def evidence(self, order_id: str) -> dict | None:
        """The order's evidence record (station/evidence.py), or None."""
        with self.parts.lock:
            return evidence.record(self.parts.conn, order_id)

    def purge_personal(self) -> list[str]:
        """Purge the personal data kept past its retention (station/privacy.py); the agent's prune pass."""
        return self.privacy.purge()

    def is_supervisor(self, employee_id: str | None) -> bool:
        return self.views.is_supervisor(employee_id)

    def pda_login(self, badge: str, pin: str, device: str | None = None) -> dict:
        return self._saving(lambda: self.desk.login(badge, pin, device))

    def orders_to_pick(self, query: PageQuery | None = None) -> list[dict]:
        return list(self.views.page("orders_to_pick", query or PageQuery())["items"])

    def pick_view(self, order_id: str, employee_id: str) -> dict:
        return self.desk.pick_view(order_id, employee_id)

    def on_reference(self, conn: Any, kept: dict[str, list[dict]]) -> None:
        """``ReferenceCache``'s hook, inside the transaction of a reference page: the WMS's word on orders, its
        carrier rules, and the stock alerts its new stock closes."""
        self.interception.on_reference(conn, kept)
        self.carriers.on_reference(conn, kept)
        self.stock.on_reference(conn, kept)

    def tick(self) -> Any:
        self.stock.tick()
        done = self.timers.tick()
        if self.labels is not None:
            self.labels.tick()
        return done

    def acknowledge_escalation(self, escalation_id: int, operator: str, key: str | None = None) -> dict:
        return self.timers.acknowledge(escalation_id, operator)

    def acknowledge_site_escalation(self, order_id: str, level: int, operator: str) -> dict:
        """Acknowledge one of the site's escalations (``<order>~<level>``) through the hub, as ``operator`` (a
        supervisor): the hub audits it once and sends the WMS its ``escalation_ack``."""
        employee = self.catalog.employee_by_id(operator) or self.catalog.employee_by_badge(operator)
        if employee is None or not self.views.is_supervisor(employee.employee_id):
            return answer("not_supervisor", problem="Only a signed-in supervisor can acknowledge an escalation.",
                          problem_zh="只有已登录的主管可以确认升级。")
        try:
            done = self.site.acknowledge(order_id, level, employee.employee_id)
        except (SyncError, OSError) as exc:
            return answer("hub_unreachable", detail=str(exc)[:200])
        if done is None:
            return answer("unknown_escalation", escalation_id=f"{order_id}/{level}")
        if not done.get("acknowledged"):
            return answer("already_acknowledged", by=done.get("acked_by_name") or done.get("acked_by") or "?")
        return answer("acknowledged", order_id=order_id)

    def on_released(self, order_id: str, decision: dict) -> None:
        """A supervisor released ``order_id`` from this table (the hub's feed or heartbeat): drop it if it is still
        open here, and say who and why on the kiosk. Nothing is sent: the hub made and audited the decision."""
        with self.parts.lock:
            live = self.parts.live
            before = live.pack
            if self.site.closed or before.order is None or before.order.order_id != order_id \
                    or before.state not in pk.ORDER_STATES:
                return
            by = str(decision.get("by") or "?")
            outcome = release_rules.released(before, by, str(decision.get("by_name") or by),
                                             str(decision.get("reason") or ""))
            at = isoformat(self.clock.now())

            def local_writes(conn: Any) -> None:
                store.save_session(conn, KIOSK, outcome.session.to_dict(), at)
                store.back_to_queue(conn, order_id, at)

            def drop() -> dict:
                verdict = self.commit(outcome, {"device": self.device_id("kiosk")}, at, local_writes)
                live.pack = outcome.session
                if self.labels is not None:
                    self.labels.after_step(before, outcome.session)
                log.warning("released from this table by %s: %s", by, decision.get("reason"), extra={"order": order_id})
                return self._show(verdict)

            self._saving(drop)

    def on_review_decided(self, decision: dict) -> None:
        """A supervisor approved or refused, at the hub's dashboard, an order this table opened under review (the
        hub's feed): kept, and the kiosk told; an approved order's label prints, a refused one ends here. Nothing is
        sent: the hub audited the decision and told the WMS."""
        order_id, decided = str(decision["order_id"]), decision.get("decision")
        if decided not in ("approved", "refused"):
            return
        with self.parts.lock:
            if self.site.closed or not self.reviews.learned(order_id, decision):
                return
            before = self.parts.live.pack
            if before.order is None or before.order.order_id != order_id or before.state not in pk.ORDER_STATES:
                return
            sup = Employee(str(decision.get("by") or "?"), str(decision.get("by_name") or decision.get("by") or "?"),
                           "", Role.SUPERVISOR)
            outcome = self.reviews.decide(before, sup, str(decided), str(decision.get("reason") or ""), pending=False)
            assert outcome is not None
            kept = Outcome(outcome.session, outcome.verdict, [])
            self._saving(lambda: self._apply(before, kept, {"device": self.device_id("kiosk"), "key": None}))
            if self.labels is not None and decided == "approved" and before.state is pk.State.WEIGHED_OK:
                self.labels.queue({"device": self.device_id("kiosk")})
        self._after_turn({})

    def resolve_conflict(self, confirmation_id: str, supervisor: str, note: Any) -> dict:
        """A supervisor resolves a pack or hand-over upstream refused because the WMS had cancelled the order: one of
        this station's, or (``hub~<n>``) one of the site's, through the hub (audited there, once)."""
        site = SITE_CONFLICT_ID.fullmatch(confirmation_id)
        if site is None:
            return self.interception.resolve(confirmation_id, supervisor, note)
        if not isinstance(note, str) or not note.strip() or len(note) > 200:
            return answer("conflict_note_missing")
        employee = self.catalog.employee_by_id(supervisor) or self.catalog.employee_by_badge(supervisor)
        if employee is None or not self.views.is_supervisor(employee.employee_id):
            return answer("not_supervisor", problem="Only a signed-in supervisor can resolve a conflict.",
                          problem_zh="只有已登录的主管可以处理冲突。")
        try:
            done = self.site.resolve_conflict(int(site["n"]), employee.employee_id, note.strip())
        except (SyncError, OSError) as exc:
            return answer("hub_unreachable", detail=str(exc)[:200])
        if done is None:
            return answer("unknown_conflict", confirmation_id=confirmation_id)
        if not done.get("resolved"):
            return answer("conflict_already_resolved", order_id=done.get("order_id") or "?",
                          by=done.get("resolved_by_name") or done.get("resolved_by") or "?")
        return answer("conflict_resolved", order_id=done.get("order_id") or "?", action=done.get("action") or "?")

    # ------------------------------------------------------------------ public entry points
    def handle(self, body: Any) -> dict:
        """The action confirmation API: one request in, one verdict out (see station/web/openapi.py).

        A badge named here is typed, not tapped: it proves presence only with its PIN (``payload.pin``,
        ``payload.supervisor_pin``)."""
        return self._handle(body, present=False)

    def _handle(self, body: Any, *, present: bool) -> dict:
        problem = _validate(body)
        if problem:
            return answer("bad_request", problem=problem)
        oversized = _too_large(body)
        if oversized:
            return oversized
        key = body.get("key")
        request_hash = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "key"}, sort_keys=True,
                                                 default=str).encode()).hexdigest()
        with self.parts.lock:
            if key:
                stored = store.stored_answer(self.parts.conn, key)
                if stored is not None:
                    if not hmac.compare_digest(stored["request_hash"], request_hash):
                        return answer("key_reused", key=key)
                    return {**stored["response"], "replayed": True}
            shown = self._saving(lambda: self._dispatch(body, key, request_hash, present))
        return self._after_turn(shown)

    def on_badge(self, uid: str, device: str) -> dict:
        """A tap on this station's own badge reader: the one input that proves the person is at the table."""
        if self.returns.mode == "returns":  # a special item's second person at the Returns screen
            answered = self.returns.tap(uid, device)
            if answered is not None:
                return self._show(answered)
        return self._handle({"action": "badge", "object_id": uid, "device": device}, present=True)

    def on_scan(self, scan: Scan, device: str) -> dict:
        """A scan from the station's own scanner (already interpreted by the reader); in Returns mode it is a step
        of the return at the kiosk."""
        if self.returns.mode == "returns":
            operator = self.pack.operator.employee_id if self.pack.operator else None
            return self._show(self.returns.scan(scan.raw, operator, device))
        with self.parts.lock:
            shown = self._saving(lambda: self._scan_kiosk(scan, {"device": device}))
        return self._after_turn(shown)

    def on_bad_input(self, raw: str, reason: str, device: str) -> dict:
        """Input a reader could not use (e.g. a wedge badge reader typing an unexpected format): kept for review."""
        with self.parts.lock:
            return self._saving(lambda: self._reject_input(raw, reason, {"device": device}))

    def on_reading(self, reading: Reading) -> None:
        """A scale reading: update the display; weigh automatically when the parcel is ready and steady."""
        live = self.parts.live
        before = live.scale.view()
        live.scale.heard(reading)
        self.frames.add(reading)
        shown = live.scale.view()
        self._scale_shown = True
        if {k: shown.get(k) for k in ("status", "stable", "weight", "unit", "state")} != \
                {k: before.get(k) for k in ("status", "stable", "weight", "unit", "state")}:
            self.bus.publish("scale", shown)
        if self.items.enabled:
            with self.parts.lock:
                said = self.items.on_reading(live.pack, reading)
                held = self.items.holds(live.pack)
            if said is not None:
                self._show(said)
            if held:
                return
        if not reading.usable:
            return
        with self.parts.lock:
            weight = live.pack.weight
            taken = intake.reading(live.pack.state, live.parcel_on_scale, reading,
                                   weight.measured_g if weight is not None else None,
                                   lift_packs=self.cfg["label.mode"] != "print")
            live.parcel_on_scale = taken.loaded
            live.scale_must_clear = live.scale_must_clear and taken.loaded
            for event in taken.events:
                if live.scale_must_clear and isinstance(event, pk.Weigh):
                    continue  # still the carton that was just closed, not the next one
                step: pk.Event = pk.Pack(self._photo()) if isinstance(event, pk.Pack) else event
                verdict = self._saving(functools.partial(self._pack_step, step, {"device": self.device_id("scale"),
                                                                         "frames": self.frames.upto(reading)}))
                if verdict["status"] in REFUSALS:
                    break
        self._after_turn({})

    def on_device_state(self, name: str, state: str, detail: str | None, port: str | None = None,
                        notices: tuple[dict, ...] = ()) -> None:
        """A reader reported a state: kept as one of the words a person sees, pushed to the pages (with a printer's
        warnings, ``notices``)."""
        live = self.parts.live
        before = live.devices.get(name)
        live.devices[name] = device_states.entry(state, detail, port, notices)
        if name == "scale" and live.devices[name]["state"] == "connected":
            live.scale.heard()  # it has fresh_s to send its first reading
        elif name == "scale":
            live.scale.connected = False
            self.bus.publish("scale", live.scale.view())
        if before is None or before["state"] != live.devices[name]["state"]:
            self.bus.publish("devices", dict(live.devices))

    def _device_state(self, name: str, state: str, detail: str | None, notices: tuple[dict, ...] = ()) -> None:
        if self.parts.live.devices.get(name) != device_states.entry(state, detail, None, notices):
            self.on_device_state(name, state, detail, notices=notices)
            self._publish_state()

    def check_scale(self) -> None:
        """Tell the pages when the scale stops (or starts) responding; called every second by the agent."""
        responding = self.parts.live.scale.responding()
        if responding != self._scale_shown:
            self._scale_shown = responding
            if not responding:
                log.warning("%s", self.parts.live.scale.problem())
            self.bus.publish("scale", self.parts.live.scale.view())

    # ------------------------------------------------------------------ dispatch
    def _after_turn(self, shown: dict) -> dict:
        """Slow work the turn queued (printing a label: upstream and the printer), done without the station
        lock; its verdict is the answer."""
        labels = self.labels
        if labels is None or not labels.due:
            return shown
        return self._saving(lambda: labels.run_due() or shown)

    def _saving(self, action: Callable[[], dict]) -> dict:
        """Run ``action``; a failed write is the "not saved" verdict, never a false "done"."""
        live = self.parts.live
        try:
            result = action()
        except StorageError as exc:
            if live.storage_fault is None:  # one log line per change of state
                log.error("not saved: %s", exc)
            live.storage_fault = str(exc)
            return self._show(answer("storage", detail=str(exc)))
        if live.storage_fault is not None and result.get("code") != "storage" and result.get("confirmation_ids") is not None:
            log.warning("the station database takes writes again (was: %s)", live.storage_fault)
            live.storage_fault = None
        return result

    def storage_fault(self, exc: StorageError) -> dict:
        """The "not saved" answer for a storage failure outside an action (any endpoint); remembered for health."""
        if self.parts.live.storage_fault is None:
            log.error("not saved: %s", exc)
        self.parts.live.storage_fault = str(exc)
        return answer("storage", detail=str(exc))

    def _dispatch(self, body: dict, key: str | None, request_hash: str, present: bool) -> dict:
        live = self.parts.live
        action = body["action"]
        meta: Meta = {"device": body.get("device") or self.device_id("kiosk"),
                      "location": body.get("location") or self.location, "present": present,
                      "key": key, "request_hash": request_hash, "image_sha256": body.get("image_sha256")}
        if (body.get("terminal") or KIOSK) == "pda":
            shown = self.desk.handle(body, meta)
            if shown.get("code") == "stock_short":  # the shift lead hears of it (``stock_watch.tick``)
                with write_tx(self.parts.conn) as conn:
                    self.stock.short(conn, self.outbox, shown, body.get("operator"), meta["device"],
                                     meta["location"], isoformat(self.clock.now()))
                self.wake()
            self.views.renew()  # the PDA's next order list shows what it just did
            return shown
        payload = body.get("payload") or {}
        if action == "badge":
            uid = str(body.get("object_id") or body.get("operator") or "")
            clash = self.catalog.ambiguity("badge", uid)
            if clash:
                return self._show(make("ambiguous_reference", what=clash).as_dict())
            if payload.get("pin") is not None:
                proven = self.pins.verify(uid, payload["pin"], "badge", meta["device"])
                if isinstance(proven, dict):
                    return self._show(proven)
                uid, present = proven.badge_uid, True
            decided = self._supervisor_tap(uid, present, meta)
            if decided is not None:
                return decided
            return self._override_or_step(intake.badge(uid, live.pack.state, self._waiting_reason(), present=present),
                                          meta)
        if action == "review":
            return self._review(payload, meta)
        if action == "switch_carrier":
            return self._switch_carrier(meta)
        if action == "cancel" and _scope(payload) == "order":
            return self._cancel_order(payload, meta)
        if action == "scan":
            text = str(body.get("object_id") or "")
            return self._scan_kiosk(interpret(text, self.parts.patterns, source=meta["device"]), meta)
        if action == "weigh":
            return self._weigh(payload, meta)
        if action == "override":
            reason = str(payload.get("reason") or "").strip()
            supervisor = payload.get("supervisor_badge") or body.get("operator")
            if supervisor:
                uid, present = str(supervisor), False
                if payload.get("supervisor_pin") is not None:
                    proven = self.pins.verify(uid, payload["supervisor_pin"], "override", meta["device"])
                    if isinstance(proven, dict):
                        return self._show(proven)
                    uid, present = proven.badge_uid, True
                return self._override_or_step(intake.approval(uid, reason, live.pack.state, present=present), meta)
            if not reason:
                return self._show(make("override_reason_missing", status="error").as_dict())
            live.override_reason, live.override_at = reason, self.clock.monotonic()
            return self._show(make("override_requested", reason=reason).as_dict())
        simple: dict[str, Callable[[], pk.Event]] = {
            "reweigh": lambda: pk.Reweigh(str(payload.get("reason") or "reweigh")),
            "pack": lambda: pk.Pack(body.get("image_sha256") or self._photo()),
            "cancel": lambda: pk.Cancel(str(payload.get("reason") or ""), _scope(payload)),
            "sign_out": lambda: pk.SignOut(str(payload.get("reason") or "manual"), payload.get("confirm") is True),
            "fifo_take_older": lambda: pk.FifoTakeOlder(), "put_back": lambda: pk.PutBack(),
            "close_carton": lambda: lb.CloseCarton(str(payload["box"]) if payload.get("box") else None)}
        if action in ("reprint", "print_label") and self.labels is not None:
            if action == "reprint":
                self.labels.queue_reprint(str(payload.get("reason") or "reprint"), meta)
            else:
                self.labels.queue(meta)
            return live.verdict or answer("internal")  # replaced by the printing's verdict after the turn
        if action in simple:
            return self._pack_step(simple[action](), meta)
        return answer("bad_request", problem=f"action {action!r} is not for the packing kiosk",
                      problem_zh=f"操作{action!r}不适用于打包台")

    def _weigh(self, payload: dict, meta: Meta) -> dict:
        grams, stable = payload.get("grams"), payload.get("stable", True)
        if not isinstance(stable, bool):
            return bad_field("payload.stable", "boolean")  # an API client's mistake: never on the kiosk's screen
        if grams is None:
            reading = self.parts.live.scale.fresh()
            if reading is None:
                return self._show(answer("scale_not_responding", seconds=f"{self.parts.live.scale.fresh_s:g}"))
            value, stable = reading.grams, reading.stable
            meta = {**meta, "frames": self.frames.upto(reading)}
        else:
            parsed = intake.grams(grams, Decimal(str(self.cfg["scale.capacity_g"])))
            if isinstance(parsed, str):
                return bad_field("payload.grams", parsed)
            value = parsed
        return self._pack_step(pk.Weigh(value, stable), meta)

    def _waiting_reason(self) -> str | None:
        """The supervisor's reason waiting for their tap, while it is fresh (``badge.approval_window_s``)."""
        live = self.parts.live
        if live.override_reason and live.override_at is not None and \
                self.clock.monotonic() - live.override_at > float(self.cfg["badge.approval_window_s"]):
            live.override_reason = live.override_at = None
        return live.override_reason

    def _override_or_step(self, event: pk.Event, meta: Meta) -> dict:
        verdict = self._pack_step(event, meta)
        if isinstance(event, (pk.SupervisorOverride, pk.FifoOverride)) and verdict["status"] != "error":
            self.parts.live.override_reason = None
        return verdict

    def _scan_kiosk(self, scan: Scan, meta: Meta) -> dict:
        live = self.parts.live
        live.last_scan = {"raw": scan.raw.replace("\x1d", "<GS>"), "kind": scan.kind, "device": meta.get("device")}
        clash = next(filter(None, (self.catalog.ambiguity(kind, scan.value) for kind in AMBIGUOUS_BY_SCAN.get(scan.kind, ()))),
                     None)
        if clash:
            self._keep_unusable(scan.raw, "ambiguous_reference", meta)
            return self._show(make("ambiguous_reference", what=clash).as_dict())
        taken = intake.kiosk_scan(scan, live.pack, self._waiting_reason(), self.catalog,
                                  self.labels.owner if self.labels is not None else intake.no_waybills)
        if isinstance(taken, intake.Reject):
            return self._reject_input(taken.raw, taken.reason, meta)
        if isinstance(taken, intake.WrongCode):
            self._keep_unusable(scan.raw, "wrong_code_here", meta)
            return self._show(make("wrong_code_here", kind=taken.kind, code=taken.code, status="error",
                                   next=pk.NEXT_IN_STATE[live.pack.state]).as_dict())
        refused = self.items.before_scan(live.pack, taken)  # per-item weighing: the box first, one item at a time
        if refused is not None:
            return self._show(refused)
        verdict = self.items.after_scan(self._override_or_step(taken, meta))
        if verdict["code"] in UNUSABLE_SCAN and isinstance(taken, (pk.OpenOrder, pk.ScanItem, pk.ChoosePackaging)):
            self._keep_unusable(scan.raw, verdict["code"], meta)
        return verdict

    def _keep_unusable(self, raw: str, reason: str, meta: Meta) -> None:
        """Every scan the station could not use is kept for review with the reason (the verdict's code)."""
        with write_tx(self.parts.conn):
            store.record_rejected(self.parts.conn, isoformat(self.clock.now()), meta.get("device") or "?", raw, reason)

    def _reject_input(self, raw: str, reason: str, meta: Meta) -> dict:
        at = isoformat(self.clock.now())
        with write_tx(self.parts.conn):
            store.record_rejected(self.parts.conn, at, meta.get("device") or "?", raw, reason)
        return self._show(make("bad_barcode", code=raw.replace("\x1d", "<GS>"), reason=reason,
                               next=pk.NEXT_IN_STATE[self.parts.live.pack.state]).as_dict())

    # ------------------------------------------------------------------ packing
    def _pack_context(self) -> pk.PackContext:
        p = self.parts
        return pk.PackContext(catalog=p.catalog, today=self.clock.now().date(), tolerance=p.tolerance,
                              lot_policy=p.lot_policy, packed_serials=store.PackedSerials(p.conn),
                              typed_sign_in=bool(self.cfg["badge.typed_sign_in"]),
                              label_mode=lb.LabelMode(self.cfg["label.mode"]), label_verify=self.cfg["label.verify"],
                              gate=self.weights.gate())

    def _pack_step(self, event: pk.Event, meta: Meta) -> dict:
        before = self.parts.live.pack
        stopped = self._intercepted(before, event)
        if stopped is not None:
            return self._apply(before, stopped, meta)
        held = self.reviews.gate(before, event.name, lb.LabelMode(self.cfg["label.mode"]))
        if held is not None:
            return self._show(held)
        outcome = self._photographed(pk.step(before, event, self._pack_context()), meta)
        outcome = self.reviews.opened(before, outcome)
        return self._apply(before, self.video.seal(before, outcome), meta)

    # ------------------------------------------------------------------ interception (订单拦截)
    def _intercepted(self, before: pk.PackSession, event: pk.Event) -> Outcome | None:
        """The answer to ``event`` when it is a step of an order the WMS held, cancelled or changed."""
        operator = before.operator.employee_id if before.operator else None
        step = intercept_rules.step_of(before, event.name)
        if step is not None and before.order is not None:
            return self.interception.refusal(before, before.order.order_id, step, operator)
        opening = self._opening(before, event)
        return self.interception.refusal(before, opening, "open_order", operator) if opening else None

    def _opening(self, before: pk.PackSession, event: pk.Event) -> str | None:
        """The order ``event`` opens when no order is open (a scanned order or tote, a pre-printed waybill)."""
        if before.state in pk.ORDER_STATES:
            return None
        if isinstance(event, pk.OpenOrder):
            order = self.catalog.order(event.code)
            return order.order_id if order else self.interception.order_by_tote(event.code.strip())
        if isinstance(event, lb.ScanLabel):
            return event.owner
        return None

    def _stop_step(self, step: str, meta: Meta) -> dict | None:
        """The label desk's check before it requests or prints a label: the answer when the WMS stopped the order."""
        before = self.parts.live.pack
        if before.order is None:
            return None
        operator = before.operator.employee_id if before.operator else None
        stopped = self.interception.refusal(before, before.order.order_id, step, operator)
        if stopped is not None:
            return self._apply(before, stopped, meta)
        held = self.reviews.gate(before, step, lb.LabelMode(self.cfg["label.mode"]))
        if held is not None:
            return self._show(held)
        return self._carrier_check(before, meta) if step == "label_request" else None

    def _revision(self, order_id: str) -> int:
        """The WMS's revision of ``order_id`` known here (a label is requested for it)."""
        word = self.interception.word(order_id)
        return word.revision if word is not None else 1

    def _stop_parcel(self, order_id: str, step: str, meta: Meta, said: dict | None = None) -> dict | None:
        """The dock's check of a parcel: the INTERCEPTED answer (recorded once) when the WMS stopped its order.
        ``said``: the WMS's word as the dock's facts carry it (the hub's, the reference rows), taken like any other
        (unless it is older than the station's): the dock's answer and its record are those of every other step."""
        if said is not None:
            with write_tx(self.parts.conn) as conn:
                self.interception.learn(conn, [said], "dock")
            self.interception.announce()
        stopped = self.interception.refusal(pk.PackSession(station=self.id), order_id, step, meta.get("operator"))
        if stopped is None or stopped.verdict.status != "intercepted":
            return None
        at = isoformat(self.clock.now())
        return self.commit(stopped, {**meta, "key": None}, at, lambda conn: self.interception.note(conn, stopped, at))

    # ------------------------------------------------------------------ site policies (review, carriers, stock)
    def _policies_note(self, conn: Any, before: pk.PackSession, outcome: Outcome, meta: Meta, at: str) -> None:
        """What the site policies keep of a step, inside its transaction: reviews and their decisions, carrier
        switches, and the stock levels its counted units crossed."""
        self.reviews.note(conn, outcome, at, "table")
        self.carriers.note(conn, outcome, at)
        same = before.order is not None and outcome.session.order is not None and \
            before.order.order_id == outcome.session.order.order_id
        counted = Counter((u.sku, u.lot) for u in before.units) if same else Counter()
        if self.stock.taken(conn, self.outbox, outcome.effects, counted,
                            meta.get("device") or self.device_id("kiosk"), meta.get("location") or self.location, at):
            self.wake()  # the timers' pass tells the shift lead (``StockWatch.tick``), once this step is committed

    def _supervisor(self, uid: str, present: bool, reason: str) -> Employee | dict:
        """The supervisor ``uid`` names, proven present, not the packer; else the refusal shown."""
        s = self.parts.live.pack
        found = pk.authorise_override(self.catalog, uid, reason or "-", s.operator.employee_id if s.operator else None,
                                      False, present)
        if isinstance(found, Employee):
            return found
        code, data = found
        return self._show(make(code, status="error", next="scan_supervisor_badge", **data).as_dict())

    def _supervisor_tap(self, uid: str, present: bool, meta: Meta) -> dict | None:
        """A supervisor's badge while an order waits for them (its review, or the cancel of the whole order): their
        decision (None: the badge is not that)."""
        live = self.parts.live
        s = live.pack
        if s.order is None or s.state not in pk.ORDER_STATES:
            return None
        employee = self.catalog.employee_by_badge(uid)
        if employee is None or employee.role is not Role.SUPERVISOR or \
                (s.operator is not None and employee.employee_id == s.operator.employee_id):
            return None
        waiting = live.waiting if live.waiting and self.clock.monotonic() - live.waiting["at"] <= \
            float(self.cfg["badge.approval_window_s"]) and live.waiting["order_id"] == s.order.order_id else None
        if waiting is not None and waiting["kind"] == "cancel":
            if not present:
                return self._show(make("presence_required", status="error", next="tap_badge").as_dict())
            live.waiting = None
            return self._pack_step(pk.Cancel(waiting["reason"], "order", employee.employee_id), meta)
        if self.reviews.pending(s.order.order_id) is None:
            return None
        decision, reason = (waiting["decision"], waiting["reason"]) if waiting is not None else \
            ("approved", "approved at the table")
        return self._decide_review(uid, present, decision, reason, meta)

    def _decide_review(self, uid: str, present: bool, decision: str, reason: str, meta: Meta) -> dict:
        sup = self._supervisor(uid, present, reason)
        if isinstance(sup, dict):
            return sup
        before = self.parts.live.pack
        outcome = self.reviews.decide(before, sup, decision, reason)
        if outcome is None:
            return self._show(answer("review_not_pending"))
        self.parts.live.waiting = None
        return self._apply(before, outcome, meta)

    def _review(self, payload: dict, meta: Meta) -> dict:
        """``review``: a supervisor approves or refuses the order under review here, with badge + PIN now, or with a
        tap of their badge next (within ``badge.approval_window_s``)."""
        live = self.parts.live
        decision = REVIEW_WORDS.get(str(payload.get("decision") or "approve"))
        if decision is None:
            return answer("review_decision_unknown", decision=str(payload.get("decision"))[:40])
        s = live.pack
        if s.order is None or self.reviews.pending(s.order.order_id) is None or s.state not in pk.ORDER_STATES:
            return self._show(answer("review_not_pending"))
        reason = str(payload.get("reason") or "").strip()
        if decision == "refused" and not reason:
            return self._show(make("override_reason_missing", status="error").as_dict())
        reason = reason or "approved"
        if payload.get("supervisor_badge"):
            uid = str(payload["supervisor_badge"])
            if payload.get("supervisor_pin") is None:
                return self._show(make("presence_required", status="error", next="scan_supervisor_badge").as_dict())
            proven = self.pins.verify(uid, payload["supervisor_pin"], "review", meta["device"])
            if isinstance(proven, dict):
                return self._show(proven)
            return self._decide_review(proven.badge_uid, True, decision, reason, meta)
        live.waiting = {"kind": "review", "decision": decision, "reason": reason, "order_id": s.order.order_id,
                        "at": self.clock.monotonic()}
        return self._show(make("review_decision_requested", decision=Word(f"word:review_{payload.get('decision') or 'approve'}"),
                               reason=reason).as_dict())

    def _cancel_order(self, payload: dict, meta: Meta) -> dict:
        """Cancelling a whole order needs a supervisor: badge + PIN in the request, or a tap of their badge next."""
        live = self.parts.live
        reason = str(payload.get("reason") or "").strip()
        s = live.pack
        if payload.get("supervisor_badge") and payload.get("supervisor_pin") is not None:
            proven = self.pins.verify(str(payload["supervisor_badge"]), payload["supervisor_pin"], "order_cancel",
                                      meta["device"])
            if isinstance(proven, dict):
                return self._show(proven)
            sup = self._supervisor(proven.badge_uid, True, reason)
            if isinstance(sup, dict):
                return sup
            return self._pack_step(pk.Cancel(reason, "order", sup.employee_id), meta)
        shown = self._pack_step(pk.Cancel(reason, "order"), meta)
        if shown.get("code") == "order_cancel_needs_supervisor" and s.order is not None:
            live.waiting = {"kind": "cancel", "reason": reason, "order_id": s.order.order_id,
                            "at": self.clock.monotonic()}
        return shown

    def _carrier_check(self, before: pk.PackSession, meta: Meta) -> dict | None:
        """The carrier rules before a label is requested: None (go on, switched to the backup when the site allows
        it), or the refusal with the backup offered."""
        check, region = self.carriers.check(before)
        if check.outcome == carrier_rules.GO:
            return None
        if check.outcome == carrier_rules.REFUSED:
            return self._show(self.carriers.refusal(before, check, region))
        assert check.booked is not None and check.carrier is not None
        outcome = self.carriers.switched(before, check.booked, check.carrier, check.why, None, True)
        self._apply(before, outcome, meta)
        return None

    def _switch_carrier(self, meta: Meta) -> dict:
        """``switch_carrier``: the packer takes the backup carrier offered for the order open here; its label
        prints next."""
        s = self.parts.live.pack
        offer = self.carriers.offer
        if s.order is None or offer is None or offer["order_id"] != s.order.order_id:
            return self._show(answer("carrier_no_switch", order_id=s.order.order_id if s.order else "-"))
        outcome = self.carriers.switched(s, offer["booked"], offer["backup"], offer["why"], None, False)
        shown = self._apply(s, outcome, meta)
        if self.labels is not None and s.state is pk.State.WEIGHED_OK:
            self.labels.queue({**meta, "key": None})  # the switch answered this key; the print is its own step
        return shown

    def _on_words(self, order_ids: set[str]) -> None:
        """The WMS's new word on ``order_ids`` is committed: the kiosk shows it at once when it concerns the order
        open there (the next step is refused and recorded), a label waiting to print is withdrawn (or printed
        once the order is released), and the pages get the new state."""
        with self.parts.lock:
            if self.site.closed:
                return
            s = self.parts.live.pack
            if s.order is not None and s.order.order_id in order_ids and s.state in pk.ORDER_STATES:
                word = self.interception.word(s.order.order_id)
                notice = intercept_rules.answer(s, s.order.order_id, "notice", word, tz=self.clock.now().tzinfo,
                                                operator=None)
                if notice is not None:
                    self._show(notice.verdict.as_dict())
                if self.labels is not None and word is not None:
                    self.labels.on_word(word.stops)
            self._publish_state()

    def _apply(self, before: pk.PackSession, outcome: Outcome, meta: Meta) -> dict:
        """Commit ``outcome`` of a step of the kiosk's session, make it the session, show its verdict."""
        live = self.parts.live
        after = outcome.session
        refused = self.site.claim_opened(before, after)  # another table has this order open
        if refused is not None:
            return self._show(refused)
        at = isoformat(self.clock.now())

        def local_writes(conn: Any) -> None:
            store.save_session(conn, KIOSK, after.to_dict(), at)
            self._milestones(conn, before, after, outcome, at)
            evidence.add_frames(conn, outcome, meta.get("frames"), at)
            self.interception.note(conn, outcome, at)
            self._policies_note(conn, before, outcome, meta, at)

        verdict = self.commit(outcome, meta, at, local_writes if outcome.effects or after != before else None)
        live.pack = after
        self.site.left(before, after)
        if after.operator is None:
            live.override_reason = None
            live.last_activity = None
        else:
            live.last_activity = self.clock.now()
        if before.state is not after.state and after.state is pk.State.PACKED:
            self.wake()
        shown = self._show(verdict)
        if self.labels is not None:
            return self.labels.after_step(before, after) or shown
        return shown

    def _photographed(self, outcome: Outcome, meta: Meta) -> Outcome:
        """Every ``pack`` confirmation carries the parcel's photo when there is one, in every label mode: the one sent
        with the request (``image_sha256`` of the label scan, the print, the weighing), else the camera's now."""
        if not any(isinstance(e, Confirmation) and e.action == "pack" and not e.image_sha256 for e in outcome.effects):
            return outcome
        image = meta.get("image_sha256") or self._photo()
        if not image:
            return outcome
        return Outcome(outcome.session, outcome.verdict,
                       [dataclasses.replace(e, image_sha256=image) if isinstance(e, Confirmation)
                        and e.action == "pack" and not e.image_sha256 else e for e in outcome.effects])

    def _milestones(self, conn: Any, before: pk.PackSession, after: pk.PackSession, outcome: Outcome, at: str) -> None:
        order = after.order or before.order
        if order is None:
            return
        oid, state = order.order_id, after.state
        S = pk.State
        if state is S.ORDER_OPEN and before.state is not S.ORDER_OPEN:
            store.set_order(conn, oid, at, status="packing", station=self.id)
        if after.complete and not (before.complete and before.order and before.order.order_id == oid):
            store.set_order(conn, oid, at, verified_at=at)
        for effect in outcome.effects:
            if isinstance(effect, Confirmation) and effect.action == "weigh":
                store.add_weighing(conn, at, oid, effect.operator, effect.payload,
                                   "pass" if state is S.WEIGHED_OK else "fail")
            if isinstance(effect, Confirmation) and effect.action == "pack":
                self.weights.record(conn, oid, effect.payload, at)
        if state is S.WEIGHED_OK and before.state is not S.WEIGHED_OK:
            store.set_order(conn, oid, at, status="weighed", weighed_at=at, blocked_reason=None)
        elif state is S.BLOCKED and before.state is not S.BLOCKED:
            store.set_order(conn, oid, at, status="blocked", blocked_reason=outcome.verdict.message)
        elif state is S.PACKED and before.state is not S.PACKED:
            store.set_order(conn, oid, at, status="packed", packed_at=at, priority=0, blocked_reason=None)
            store.add_packed_serials(conn, oid, [(u.sku, u.serial) for u in after.units if u.serial], at)
        elif state is S.CANCELLED and before.state is not S.CANCELLED and outcome.verdict.code == "order_cancelled":
            store.set_order(conn, oid, at, status="cancelled", blocked_reason=None, station=None, priority=0)
        elif state is S.CANCELLED and before.state is not S.CANCELLED and outcome.verdict.code == "intercepted":
            store.set_order(conn, oid, at, status="cancelled", cancelled_at=at, station=None, priority=0,
                            blocked_reason=outcome.verdict.message)  # the WMS cancelled it: intercepted here
        elif (state is S.CANCELLED and before.state is not S.CANCELLED) or \
                (state is S.IDLE and before.state in pk.ORDER_STATES):
            local = store.order_row(conn, oid) or {}
            store.set_order(conn, oid, at, status="picked" if local.get("picked_at") else "open", blocked_reason=None,
                            station=None)

    # ------------------------------------------------------------------ commit
    def commit(self, outcome: Outcome, meta: Meta, at: str, local_writes: LocalWrites | None) -> dict:
        """Write the outcome's effects, ``local_writes`` and the keyed answer in one transaction."""
        verdict: Verdict = outcome.verdict
        result = verdict.as_dict()
        key = meta.get("key")
        if not outcome.effects and local_writes is None and not key:
            self._count(verdict)
            return result
        ids: list[str] = []
        with write_tx(self.parts.conn) as conn:
            if local_writes is not None:
                local_writes(conn)
            for effect in outcome.effects:
                if isinstance(effect, Confirmation):
                    conf = self.outbox.enqueue(conn, action=effect.action, object_type=effect.object_type,
                                               object_id=effect.object_id, operator=effect.operator,
                                               device=meta.get("device") or self.device_id("kiosk"),
                                               location=effect.location or meta.get("location") or self.location,
                                               payload=effect.payload,
                                               image_sha256=effect.image_sha256 or None)
                    ids.append(conf["id"])
                elif isinstance(effect, AuditEntry):
                    store.add_audit(conn, at, effect.who, effect.action, _object_of(outcome.session, effect),
                                    effect.before, effect.after, effect.reason, meta.get("device"))
            result["confirmation_ids"] = ids
            if any(isinstance(e, Confirmation) and e.action == "pick" for e in outcome.effects) and \
                    self.stock.taken(conn, self.outbox, outcome.effects, Counter(), meta.get("device") or "?",
                                     meta.get("location") or self.location, at, ("pick",)):
                self.wake()  # a PDA's pick crossed a stock threshold: the shift lead is told (``StockWatch.tick``)
            if key:
                store.store_answer(conn, key, meta.get("request_hash", ""), result, at)
        self._count(verdict)
        return result

    def _count(self, verdict: Verdict) -> None:
        counters = self.parts.live.counters
        counters[verdict.status] = counters.get(verdict.status, 0) + 1

    def _show(self, shown: dict) -> dict:
        """Make ``shown`` the kiosk's current verdict and push the new state."""
        live = self.parts.live
        live.verdict_seq += 1
        shown = {**shown, "seq": live.verdict_seq}
        live.verdict, live.verdict_at = shown, self.clock.monotonic()
        self.video.on_verdict(live.pack, shown)  # start, mark or end the packing video
        log.info("%s %s", shown["status"], shown["code"],
                 extra={"order": live.pack.order.order_id if live.pack.order else None, "station": self.id,
                        "fields": {"message": shown.get("message", "")[:160]}})
        self._publish_state()
        return shown

    def _publish_state(self) -> None:
        state = self.views.state()
        self.parts.live.shown_sync = _sync_summary(state["sync"])
        self.bus.publish("state", state)

    def push_sync(self) -> None:
        """Send the sync status to the pages when it differs from what they were last sent (in any event)."""
        status = self.views.sync_status()
        if _sync_summary(status) != self.parts.live.shown_sync:
            self.parts.live.shown_sync = _sync_summary(status)
            self.bus.publish("sync", status)

    def _photo(self) -> str | None:
        if self.camera is None:
            return None
        try:
            return self.camera.snapshot_sha256()
        except Exception as exc:  # noqa: BLE001 - a failed photo never blocks packing
            log.warning("camera snapshot failed: %s", exc)
            return None

    def _stable_grams(self) -> Decimal | None:
        """The scale's fresh stable reading in grams (a return's weighing), or None."""
        reading = self.parts.live.scale.fresh()
        return reading.grams if reading is not None and reading.stable else None

    def close(self) -> None:
        with self.parts.lock:  # a change from the hub's feed may be arriving in another thread
            self.site.closed = True
            self.video.close()
            self.views.close()
            self.parts.conn.close()


# ---------------------------------------------------------------------- helpers
FIELD_LIMITS = {"object_id": 512, "operator": 64, "device": 64, "location": 64, "key": 128, "terminal": 16,
                "object_type": 16}
PAYLOAD_LIMITS = {"reason": 500, "supervisor_badge": 64, "supervisor_pin": 64, "pin": 64, "grams": 32}


def _too_large(body: dict) -> dict | None:
    """The answer for a field longer than its limit (HTTP 413 on the API), naming the field."""
    for name, limit in FIELD_LIMITS.items():
        if isinstance(body.get(name), str) and len(body[name]) > limit:
            return answer("too_large", field=name, limit=limit)
    payload = body.get("payload")
    if isinstance(payload, dict):
        for name, limit in PAYLOAD_LIMITS.items():
            if isinstance(payload.get(name), str) and len(payload[name]) > limit:
                return answer("too_large", field=f"payload.{name}", limit=limit)
        if len(payload) > 16:
            return bad_field("payload", "at_most_16_fields")
    return None


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return Word("problem:not_object")
    action = body.get("action")
    if action not in ACTIONS:
        return f"action must be one of {', '.join(ACTIONS)} (got {str(action)[:40]!r})"
    for name in FIELD_LIMITS:
        if body.get(name) is not None and not isinstance(body.get(name), str):
            return f"{name} must be a string"
    if body.get("payload") is not None and not isinstance(body["payload"], dict):
        return Word("problem:payload_object")
    for name in ("reason", "supervisor_badge", "supervisor_pin", "pin"):
        if (body.get("payload") or {}).get(name) is not None and not isinstance(body["payload"][name], str):
            return f"payload.{name} must be a string"
    key = body.get("key")
    if key is not None and not 8 <= len(key) <= 128:
        return Word("problem:key_length")
    sha = body.get("image_sha256")
    if sha is not None and (not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        return Word("problem:image_sha256")
    return None


def _sync_summary(status: dict) -> tuple:
    return status.get("depth"), status.get("dead"), status.get("online")


def _scope(payload: dict) -> str:
    scope = payload.get("scope")
    return str(scope) if scope in pk.CANCEL_SCOPES else "pack_session"


def _object_of(session: Any, effect: AuditEntry) -> str | None:
    order = getattr(session, "order", None)
    if order is not None:
        return str(order.order_id)
    return (effect.before or {}).get("order_id")  # e.g. an order abandoned by signing out
