"""The station: turns actions (from its own devices and from the HTTP API) into verdicts.

One ``Station`` per packing table. It owns the pack session of the kiosk and the pick sessions
of the PDAs signed in through it. Each action runs the pure state machine (``packing.step`` /
``picking.pick_step``), then writes the new session, the confirmations (outbox), audit entries,
milestones and the idempotent answer in ONE SQLite transaction; only after that commit is the
verdict shown. A failed commit (disk full, read-only) is an error verdict, never a false "done".
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from device.barcode import SitePatterns, interpret
from station import escalation as esc_rules
from station import packing as pk
from station import picking as pick
from station import store
from station.catalog import StationCatalog
from station.config import Config
from station.devices import site_patterns
from station.effects import AuditEntry, Confirmation, Outcome
from station.events import EventBus
from station.lots import expiring_within
from station.models import LotPolicy, Role
from station.privacy import mask_record
from station.tolerance import ToleranceConfig
from station.verdicts import Verdict, make
from sync.clock import Clock, isoformat, parse_iso
from sync.db import connect, write_tx
from sync.errors import StorageError

log = logging.getLogger("packgate.station")

KIOSK = "kiosk"
MIN_PARCEL_G = Decimal("5")  # a stable reading below this is an empty scale
LOGIN_ATTEMPTS, LOGIN_LOCK_S = 5, 300.0  # wrong PINs per badge before a 5-minute lock
ACTIONS = ("badge", "scan", "pick", "verify", "weigh", "reweigh", "pack", "load", "override", "fifo_take_older",
           "put_back", "cancel", "sign_out")


def _error(code: str, message: str, message_zh: str, **data: Any) -> dict:
    return {"status": "error", "code": code, "message": message, "message_zh": message_zh, "next": "",
            "sound": "error", "colour": "red", "data": data}


def _locked(method: Callable) -> Callable:
    """Views read the station's connection under its lock, so they never see a write that rolls back."""
    def wrapper(self: "Station", *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class Station:
    def __init__(self, cfg: Config, *, db_path: str, cache: Any, outbox: Any, clock: Clock | None = None,
                 bus: EventBus | None = None, notifier: Any = None, camera: Any = None,
                 patterns: SitePatterns | None = None, wake: Callable[[], None] | None = None):
        self.cfg = cfg
        self.id = cfg["station.id"]
        self.location = cfg["station.location"]
        self.clock = clock or Clock()
        self.bus = bus or EventBus()
        self.outbox = outbox
        self.notifier = notifier
        self.camera = camera
        self.patterns = patterns or site_patterns(cfg)
        self.wake = wake or (lambda: None)
        self._conn = connect(db_path)
        store.ensure_schema(self._conn)
        self._lock = threading.RLock()
        self._notify_lock = threading.Lock()
        self.catalog = StationCatalog(cache, self._local_order)
        self.tolerance = ToleranceConfig.from_settings(
            str(cfg["weighing.tolerance_pct"]),
            {k: str(v) for k, v in cfg["weighing.category_tolerance_pct"].items()},
            use_floor=cfg["weighing.use_floor"], floor_table=cfg["weighing.floor_table"])
        self.escalation = esc_rules.EscalationConfig.from_minutes(cfg["escalation.first_after_min"],
                                                                  cfg["escalation.second_after_min"])
        self.lot_policy = LotPolicy(cfg["lots.policy"])
        sessions = store.load_sessions(self._conn)
        self.pack = pk.PackSession.from_dict(sessions[KIOSK]) if KIOSK in sessions else pk.PackSession(station=self.id)
        self.picks: dict[str, pick.PickSession] = {
            terminal.split(":", 1)[1]: pick.PickSession.from_dict(snapshot)
            for terminal, snapshot in sessions.items() if terminal.startswith("pda:") and snapshot}
        self.override_reason: str | None = None
        self.last_activity: datetime | None = self.clock.now() if self.pack.operator else None
        self.scale: dict = {"connected": False, "status": None, "stable": False, "weight": None, "unit": None,
                            "grams": None}
        self.devices: dict[str, dict] = {}
        self.verdict: dict | None = None
        self.verdict_seq = 0
        self.counters: dict[str, int] = {}
        self._failed_logins: dict[str, list[float]] = {}
        self.device_id = lambda name: f"{self.id}-{name}"

    # ------------------------------------------------------------------ public entry points
    def info(self) -> dict:
        return {"id": self.id, "name": self.cfg["station.name"], "language": self.cfg["station.language"]}

    def handle(self, body: dict) -> dict:
        """The action confirmation API: one request in, one verdict out (see station/openapi.py)."""
        problem = _validate(body)
        if problem:
            return _error("bad_request", problem, f"请求无效：{problem}")
        key = body.get("key")
        request_hash = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "key"}, sort_keys=True,
                                                 default=str).encode()).hexdigest()
        with self._lock:
            if key:
                stored = store.stored_answer(self._conn, key)
                if stored is not None:
                    if not hmac.compare_digest(stored["request_hash"], request_hash):
                        return _error("key_reused", f"Key {key} was already used for a different action.",
                                      f"键{key}已用于另一个操作。", key=key)
                    return {**stored["response"], "replayed": True}
            try:
                return self._dispatch(body, key, request_hash)
            except StorageError as exc:
                log.error("not saved: %s", exc)
                return self._show(_error("storage", f"NOT SAVED: the station could not write its database ({exc}). "
                                                    "Call IT; do not send the parcel.",
                                         f"未保存：工作站无法写入数据库（{exc}）。请联系IT，不要发出包裹。"))

    def on_badge(self, uid: str, device: str) -> dict:
        return self.handle({"action": "badge", "object_id": uid, "device": device})

    def on_scan(self, scan: Any, device: str) -> dict:
        """A scan from the station's own scanner (already interpreted by the reader)."""
        with self._lock:
            try:
                return self._scan_kiosk(scan, {"device": device})
            except StorageError as exc:
                return self._show(_error("storage", f"NOT SAVED: {exc}", f"未保存：{exc}"))

    def on_bad_input(self, raw: str, reason: str, device: str) -> dict:
        """Input a reader could not use (e.g. a wedge badge reader typing an unexpected format): kept for review."""
        with self._lock:
            try:
                return self._reject_input(raw, reason, {"device": device})
            except StorageError as exc:
                return self._show(_error("storage", f"NOT SAVED: {exc}", f"未保存：{exc}"))

    def on_reading(self, reading: Any) -> None:
        """A scale reading: update the display; weigh automatically when the parcel is ready and steady."""
        view = {"connected": True, **reading.as_dict()}
        view.pop("raw", None)
        changed = {k: view.get(k) for k in ("status", "stable", "weight", "unit")} != \
                  {k: self.scale.get(k) for k in ("status", "stable", "weight", "unit")}
        self.scale = view
        if changed:
            self.bus.publish("scale", view)
        if not reading.usable:
            return
        with self._lock:
            state = self.pack.state
            try:
                if state is pk.State.READY_TO_WEIGH and reading.grams >= MIN_PARCEL_G:
                    self._pack_step(pk.Weigh(reading.grams, True), {"device": self.device_id("scale")})
                elif state is pk.State.WEIGHED_OK and reading.grams < MIN_PARCEL_G:
                    self._pack_step(pk.Pack(self._photo()), {"device": self.device_id("scale")})
            except StorageError as exc:
                self._show(_error("storage", f"NOT SAVED: {exc}", f"未保存：{exc}"))

    def on_device_state(self, name: str, state: str, detail: str | None) -> None:
        self.devices[name] = {"state": state, "detail": detail}
        if name == "scale" and state != "connected":
            self.scale = {**self.scale, "connected": False}
            self.bus.publish("scale", self.scale)

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, body: dict, key: str | None, request_hash: str) -> dict:
        action = body["action"]
        terminal = body.get("terminal") or KIOSK
        meta = {"device": body.get("device") or self.device_id("kiosk"), "location": body.get("location") or self.location,
                "key": key, "request_hash": request_hash, "image_sha256": body.get("image_sha256")}
        if terminal == "pda":
            return self._pda(body, meta)
        payload = body.get("payload") or {}
        if action == "badge":
            uid = str(body.get("object_id") or body.get("operator") or "").strip().upper()
            if self.override_reason and self.pack.state in (pk.State.BLOCKED, pk.State.AWAITING_FIFO_DECISION):
                return self._override(uid, self.override_reason, meta)
            return self._pack_step(pk.Badge(uid), meta)
        if action == "scan":
            text = str(body.get("object_id") or "")
            return self._scan_kiosk(interpret(text, self.patterns, source=meta["device"]), meta)
        if action == "weigh":
            grams, stable = payload.get("grams"), payload.get("stable", True)
            if grams is None:
                grams, stable = self.scale.get("grams"), bool(self.scale.get("stable"))
            try:
                value = None if grams is None else Decimal(str(grams))
            except InvalidOperation:
                return self._show(_error("bad_request", f"grams {grams!r} is not a number", f"重量{grams!r}不是数字"))
            return self._pack_step(pk.Weigh(value, bool(stable)), meta)
        if action == "override":
            reason = str(payload.get("reason") or "").strip()
            supervisor = payload.get("supervisor_badge") or body.get("operator")
            if supervisor:
                return self._override(str(supervisor).strip().upper(), reason, meta)
            if not reason:
                return self._show(make("override_reason_missing", status="error").as_dict())
            self.override_reason = reason
            return self._show(make("override_requested", reason=reason).as_dict())
        simple = {"reweigh": lambda: pk.Reweigh(str(payload.get("reason") or "reweigh")),
                  "pack": lambda: pk.Pack(body.get("image_sha256") or self._photo()),
                  "cancel": lambda: pk.Cancel(str(payload.get("reason") or "")),
                  "sign_out": lambda: pk.SignOut(str(payload.get("reason") or "manual")),
                  "fifo_take_older": lambda: pk.FifoTakeOlder(), "put_back": lambda: pk.PutBack()}
        if action in simple:
            return self._pack_step(simple[action](), meta)
        return self._show(_error("bad_request", f"action {action!r} is not for the packing kiosk",
                                 f"操作{action!r}不适用于打包台"))

    def _override(self, uid: str, reason: str, meta: dict) -> dict:
        event: Any = pk.SupervisorOverride(uid, reason) if self.pack.state is pk.State.BLOCKED \
            else pk.FifoOverride(uid, reason)
        answer = self._pack_step(event, meta)
        if answer["status"] != "error":
            self.override_reason = None
        return answer

    def _scan_kiosk(self, scan: Any, meta: dict) -> dict:
        if scan.error and scan.kind == "unknown":
            return self._reject_input(scan.raw, scan.error, meta)
        kind, value = scan.kind, scan.value
        if kind == "badge":
            return self._dispatch({"action": "badge", "object_id": value, "device": meta["device"]},
                                  meta.get("key"), meta.get("request_hash", ""))
        if kind in ("order", "tote"):
            return self._pack_step(pk.OpenOrder(value), meta)
        if kind == "packaging":
            return self._pack_step(pk.ChoosePackaging(value), meta)
        if kind in ("gs1", "gtin") and scan.gtin:
            return self._pack_step(pk.ScanItem(scan.gtin, scan.lot, scan.expiry, scan.production, scan.serial), meta)
        if kind == "unknown" or kind in ("gs1", "gtin"):
            if self.pack.state in (pk.State.SIGNED_IN, pk.State.PACKED, pk.State.CANCELLED) and self.catalog.order(value):
                return self._pack_step(pk.OpenOrder(value), meta)
            if self.catalog.packaging(value):
                return self._pack_step(pk.ChoosePackaging(value), meta)
            if self.pack.state is pk.State.SIGNED_IN:
                return self._pack_step(pk.OpenOrder(value), meta)
            return self._pack_step(pk.ScanItem(value), meta)
        return self._show(make("wrong_code_here", kind=kind, code=value, status="error",
                               next=pk.NEXT_IN_STATE[self.pack.state]).as_dict())

    def _reject_input(self, raw: str, reason: str, meta: dict) -> dict:
        at = isoformat(self.clock.now())
        with write_tx(self._conn):
            store.record_rejected(self._conn, at, meta.get("device") or "?", raw, reason)
        return self._show(make("bad_barcode", code=raw.replace("\x1d", "<GS>"), reason=reason,
                               next=pk.NEXT_IN_STATE[self.pack.state]).as_dict())

    # ------------------------------------------------------------------ packing
    def _pack_context(self) -> pk.PackContext:
        serials = store.packed_serials(self._conn)
        return pk.PackContext(catalog=self.catalog, today=self.clock.now().date(), tolerance=self.tolerance,
                              lot_policy=self.lot_policy,
                              packed_serials=frozenset(pk.serial_key(s, n) for s, n in serials))

    def _pack_step(self, event: Any, meta: dict) -> dict:
        before = self.pack
        outcome = pk.step(before, event, self._pack_context())
        after = outcome.session
        at = isoformat(self.clock.now())

        def local_writes(conn) -> None:
            store.save_session(conn, KIOSK, after.to_dict(), at)
            self._milestones(conn, before, after, outcome, at)

        answer = self._commit(outcome, meta, at, local_writes if outcome.effects or after != before else None)
        self.pack = after
        if after.operator is None:
            self.override_reason = None
            self.last_activity = None
        else:
            self.last_activity = self.clock.now()
        if before.state is not after.state and pk.State.PACKED in (after.state,):
            self.wake()
        return self._show(answer)

    def _milestones(self, conn, before: pk.PackSession, after: pk.PackSession, outcome: Outcome, at: str) -> None:
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
        if state is S.WEIGHED_OK and before.state is not S.WEIGHED_OK:
            store.set_order(conn, oid, at, status="weighed", weighed_at=at, blocked_reason=None)
        elif state is S.BLOCKED and before.state is not S.BLOCKED:
            store.set_order(conn, oid, at, status="blocked", blocked_reason=outcome.verdict.message)
        elif state is S.PACKED and before.state is not S.PACKED:
            store.set_order(conn, oid, at, status="packed", packed_at=at, priority=0, blocked_reason=None)
            store.add_packed_serials(conn, oid, [(u.sku, u.serial) for u in after.units if u.serial], at)
        elif (state is S.CANCELLED and before.state is not S.CANCELLED) or \
                (state is S.IDLE and before.state in pk._ORDER_STATES):
            local = store.order_row(conn, oid) or {}
            store.set_order(conn, oid, at, status="picked" if local.get("picked_at") else "open", blocked_reason=None,
                            station=None)

    # ------------------------------------------------------------------ commit
    def _commit(self, outcome: Outcome, meta: dict, at: str, local_writes: Callable | None) -> dict:
        verdict: Verdict = outcome.verdict
        answer = verdict.as_dict()
        key = meta.get("key")
        if not outcome.effects and local_writes is None and not key:
            self._count(verdict)
            return answer
        ids: list[str] = []
        with write_tx(self._conn) as conn:
            if local_writes is not None:
                local_writes(conn)
            for effect in outcome.effects:
                if isinstance(effect, Confirmation):
                    conf = self.outbox.enqueue(conn, action=effect.action, object_type=effect.object_type,
                                               object_id=effect.object_id, operator=effect.operator,
                                               device=meta.get("device") or self.device_id("kiosk"),
                                               location=meta.get("location") or self.location,
                                               payload=effect.payload,
                                               image_sha256=effect.image_sha256 or None)
                    ids.append(conf["id"])
                elif isinstance(effect, AuditEntry):
                    store.add_audit(conn, at, effect.who, effect.action, _object_of(outcome.session, effect),
                                    effect.before, effect.after, effect.reason, meta.get("device"))
            answer["confirmation_ids"] = ids
            if key:
                store.store_answer(conn, key, meta.get("request_hash", ""), answer, at)
        self._count(verdict)
        return answer

    def _count(self, verdict: Verdict) -> None:
        name = f"{verdict.status}"
        self.counters[name] = self.counters.get(name, 0) + 1

    def _show(self, answer: dict) -> dict:
        """Make ``answer`` the kiosk's current verdict and push the new state."""
        self.verdict_seq += 1
        answer = {**answer, "seq": self.verdict_seq}
        self.verdict = answer
        log.info("%s %s", answer["status"], answer["code"],
                 extra={"order": self.pack.order.order_id if self.pack.order else None,
                        "fields": {"message": answer.get("message", "")[:160]}})
        self.bus.publish("state", self.state())
        return answer

    def _photo(self) -> str | None:
        if self.camera is None:
            return None
        try:
            return self.camera.snapshot_sha256()
        except Exception as exc:  # noqa: BLE001 - a failed photo never blocks packing
            log.warning("camera snapshot failed: %s", exc)
            return None

    # ------------------------------------------------------------------ picking (PDA)
    def pda_login(self, badge: str, pin: str) -> dict:
        code = badge.strip().upper()
        now = self.clock.monotonic()
        failures = [t for t in self._failed_logins.get(code, []) if now - t < LOGIN_LOCK_S]
        if len(failures) >= LOGIN_ATTEMPTS:
            wait = int(LOGIN_LOCK_S - (now - failures[-LOGIN_ATTEMPTS])) + 1
            return _error("login_locked", f"Too many wrong PINs for this badge: try again in {wait} s or ask a supervisor.",
                          f"此工卡密码错误次数过多：请{wait}秒后再试或联系主管。")
        employee = self.catalog.employee_by_badge(code) or self.catalog.employee_by_id(badge.strip())
        if employee is None or not employee.pin or not hmac.compare_digest(employee.pin, pin.strip()):
            self._failed_logins[code] = failures + [now]
            log.warning("wrong badge code or PIN on the PDA login", extra={"fields": {"badge": code[-4:]}})
            return _error("bad_login", "Badge code or PIN is wrong.", "工卡号或密码错误。")
        self._failed_logins.pop(code, None)
        with self._lock, write_tx(self._conn) as conn:
            self.outbox.enqueue(conn, action="badge", object_type="employee", object_id=employee.employee_id,
                                operator=employee.employee_id, device=self.device_id("pda"), location=self.location,
                                payload={"event": "sign_in", "terminal": "pda"})
        return {"status": "ok", "code": "signed_in", "message": f"Hello {employee.name}.",
                "message_zh": f"{employee.name}，您好。", "sound": "ok", "colour": "green", "next": "scan_order",
                "employee": self.employee_view(employee.employee_id, viewer=employee.employee_id)}

    def is_supervisor(self, employee_id: str | None) -> bool:
        employee = self.catalog.employee_by_id(employee_id) if employee_id else None
        return employee is not None and employee.role is Role.SUPERVISOR

    def employee_view(self, employee_id: str | None, viewer: str | None) -> dict | None:
        employee = self.catalog.employee_by_id(employee_id) if employee_id else None
        if employee is None:
            return None
        who = self.catalog.employee_by_id(viewer) if viewer else None
        return mask_record(employee.as_dict(), who.role if who else None)

    @_locked
    def orders_to_pick(self) -> list[dict]:
        orders = [o for o in self.catalog.orders() if o.status in ("open", "picking")]
        orders.sort(key=lambda o: (-o.priority, o.order_id))
        return [{"order_id": o.order_id, "tote": o.tote, "lines": len(o.lines), "units": o.units,
                 "priority": o.priority, "status": o.status} for o in orders]

    def _pick_context(self) -> pick.PickContext:
        return pick.PickContext(catalog=self.catalog, today=self.clock.now().date(), lot_policy=self.lot_policy)

    def pick_view(self, order_id: str, employee_id: str) -> dict:
        session = self.picks.get(employee_id)
        if session is None or session.order.order_id != order_id:
            order = self.catalog.order(order_id)
            if order is None:
                return {"order_id": order_id, "tasks": [], "error": "unknown order"}
            plan = pick.pick_list(order, self.catalog, self.clock.now().date(), self.lot_policy)
            return {"order_id": order_id, "tote": order.tote, "tasks": [_task(t, 0) for t in plan.tasks],
                    "current_index": 0, "current": _task(plan.tasks[0], 0) if plan.tasks else None,
                    "complete": False, "fifo": False}
        return _pick_view(session)

    def _pda(self, body: dict, meta: dict) -> dict:
        employee_id = body.get("operator")
        employee = self.catalog.employee_by_id(employee_id) if employee_id else None
        if employee is None and employee_id:
            employee = self.catalog.employee_by_badge(str(employee_id))
        if employee is None:
            return _error("not_signed_in", "Sign in on the PDA first.", "请先在手持终端登录。")
        action, payload = body["action"], body.get("payload") or {}
        ctx = self._pick_context()
        if action == "pick":
            order = self.catalog.order(str(body.get("object_id") or ""))
            if order is None:
                return make("unknown_order", code=str(body.get("object_id"))).as_dict()
            current = self.picks.get(employee.employee_id)
            if current is not None and current.order.order_id == order.order_id:
                return {**make("pick_started", order_id=order.order_id, tasks=len(current.tasks),
                               bin=current.tasks[current.current or 0].bin or "-").as_dict(),
                        "data": {"pick": _pick_view(current)}}
            outcome = pick.start_pick(order, employee, ctx)
            if outcome.session is not None:
                at = isoformat(self.clock.now())
                answer = {**outcome.verdict.as_dict(), "data": {**outcome.verdict.data, "pick": _pick_view(outcome.session)}}
                with write_tx(self._conn) as conn:
                    store.set_order(conn, order.order_id, at, status="picking", station=self.id)
                    store.save_session(conn, f"pda:{employee.employee_id}", outcome.session.to_dict(), at)
                    if meta.get("key"):  # a retried start returns this answer (replayed), like every keyed action
                        store.store_answer(conn, meta["key"], meta["request_hash"], answer, at)
                self.picks[employee.employee_id] = outcome.session
                return answer
            return outcome.verdict.as_dict()
        session = self.picks.get(employee.employee_id)
        if session is None:
            return _error("no_pick", "Choose an order to pick first.", "请先选择要拣货的订单。")
        if action == "scan":
            scan = interpret(str(body.get("object_id") or ""), self.patterns, source=meta["device"])
            if scan.kind == "bin":
                event: Any = pick.ScanBin(scan.value)
            elif scan.kind in ("tote", "order"):
                event = pick.ScanTote(scan.value)
            elif scan.kind in ("gs1", "gtin") and scan.gtin:
                event = pk.ScanItem(scan.gtin, scan.lot, scan.expiry, scan.production, scan.serial)
            elif session.state is pick.PickState.TO_BIN:
                event = pick.ScanBin(scan.value)
            elif session.state is pick.PickState.TO_TOTE:
                event = pick.ScanTote(scan.value)
            else:
                event = pk.ScanItem(scan.value)
        elif action == "fifo_take_older":
            event = pk.FifoTakeOlder()
        elif action == "put_back":
            event = pk.PutBack()
        elif action == "override":
            event = pk.FifoOverride(str(payload.get("supervisor_badge") or "").upper(), str(payload.get("reason") or ""))
        else:
            return _error("bad_request", f"action {action!r} is not for picking", f"操作{action!r}不适用于拣货")
        outcome = pick.pick_step(session, event, ctx)
        after: pick.PickSession = outcome.session
        at = isoformat(self.clock.now())

        def local_writes(conn) -> None:
            done = after.state is pick.PickState.PICKED
            store.save_session(conn, f"pda:{employee.employee_id}", {} if done else after.to_dict(), at)
            if done:
                store.set_order(conn, after.order.order_id, at, status="picked", picked_at=at, station=None)

        meta = {**meta, "device": meta.get("device") if meta.get("device") != self.device_id("kiosk") else self.device_id("pda")}
        answer = self._commit(outcome, meta, at, local_writes if outcome.effects or after != session else None)
        if after.state is pick.PickState.PICKED:
            self.picks.pop(employee.employee_id, None)
            self.wake()
        else:
            self.picks[employee.employee_id] = after
        return {**answer, "data": {**answer.get("data", {}), "pick": _pick_view(after)}}

    # ------------------------------------------------------------------ timers: escalation, idle sign-out
    def _escalation_inputs(self) -> tuple[dict, set, set, set]:
        rows = store.list_orders(self._conn)
        picked_at = {r["order_id"]: parse_iso(r["picked_at"]) for r in rows
                     if r["picked_at"] and r["status"] not in ("packed", "cancelled")}
        packed = {r["order_id"] for r in rows if r["status"] == "packed"}
        all_esc = store.escalations(self._conn, open_only=False)
        fired = {(e["order_id"], e["level"]) for e in all_esc}
        acked = {e["order_id"] for e in all_esc if e["acked_at"]}
        return picked_at, fired, acked, packed

    def tick(self) -> datetime | None:
        """Fire what is due now (escalations, idle sign-out); returns when to call again (None: nothing pending).

        Notifications go out after the station lock is released: a slow or unreachable chat service
        never makes the packer wait."""
        with self._lock:
            now = self.clock.now()
            picked_at, fired, acked, packed = self._escalation_inputs()
            for due in esc_rules.due(picked_at, now, self.escalation, fired, acked, packed):
                self._fire(due, now)
            idle_s = self.cfg["session.idle_sign_out_s"]
            if self.pack.operator and pk.should_sign_out(self.last_activity, now, idle_s):
                self._pack_step(pk.SignOut("idle"), {"device": self.device_id("kiosk")})
            picked_at, fired, acked, packed = self._escalation_inputs()
            nxt = esc_rules.next_deadline(picked_at, self.escalation, fired, acked, packed)
            if self.pack.operator and self.last_activity:
                idle_at = self.last_activity + timedelta(seconds=idle_s)
                nxt = idle_at if nxt is None else min(nxt, idle_at)
        self._retry_notifications()
        return nxt

    def _fire(self, due: esc_rules.Escalation, now: datetime) -> None:
        at = isoformat(now)
        with write_tx(self._conn) as conn:
            cur = conn.execute("INSERT OR IGNORE INTO escalations (order_id, level, deadline, fired_at) VALUES (?, ?, ?, ?)",
                               (due.order_id, due.level, isoformat(due.deadline), at))
            if cur.rowcount == 0:
                return
            if due.release_priority:
                store.set_order(conn, due.order_id, at, priority=1)
            self.outbox.enqueue(conn, action="escalate", object_type="order", object_id=due.order_id, operator=None,
                                device=self.device_id("agent"), location=self.location,
                                payload={"level": due.level, "deadline": isoformat(due.deadline), "target": due.target,
                                         "picked_at": isoformat(due.picked_at),
                                         "release_priority": due.release_priority})
        log.warning("escalation level %s fired", due.level, extra={"order": due.order_id})
        self.bus.publish("escalation", {"order_id": due.order_id, "level": due.level})
        self.bus.publish("state", self.state())

    def _retry_notifications(self) -> None:
        """Send the notifications of fired escalations not sent yet (retried on every tick until sent).

        ``notified``: 0 = to send, 1 = sent, -1 = dropped because the order was packed, cancelled or
        acknowledged before it could be sent (no stale alarm). The network call runs outside the
        station lock; ``_notify_lock`` keeps two ticks from sending the same row."""
        if not self._notify_lock.acquire(blocking=False):
            return
        try:
            with self._lock:
                outgoing = self._notifications_to_send()
            for row_id, order_id, title, body, context in outgoing:
                ok, error = (True, None) if self.notifier is None else self.notifier.send(title, body, context)
                with self._lock, write_tx(self._conn):
                    self._conn.execute("UPDATE escalations SET notified = ?, notify_error = ? WHERE id = ? AND notified = 0",
                                       (1 if ok else 0, error, row_id))
                if not ok:
                    log.warning("notification failed, will retry: %s", error, extra={"order": order_id})
                    break
        finally:
            self._notify_lock.release()

    def _notifications_to_send(self) -> list[tuple[int, str, str, str, dict]]:
        rows = self._conn.execute("SELECT * FROM escalations WHERE fired_at IS NOT NULL AND notified = 0").fetchall()
        outgoing = []
        for row in rows:
            picked = store.order_row(self._conn, row["order_id"]) or {}
            settled = "acknowledged" if row["acked_at"] else picked.get("status") \
                if picked.get("status") in ("packed", "cancelled") else None
            if settled:
                with write_tx(self._conn):
                    self._conn.execute("UPDATE escalations SET notified = -1, notify_error = ? WHERE id = ?",
                                       (f"not sent: the order was {settled} before the notification went out", row["id"]))
                continue
            order = self.catalog.order(row["order_id"])
            esc = esc_rules.Escalation(row["order_id"], row["level"], parse_iso(row["deadline"]),
                                       parse_iso(picked["picked_at"]) if picked.get("picked_at") else parse_iso(row["deadline"]),
                                       "shift_supervisor", row["level"] == 1)
            title, body = esc_rules.message(esc, self.clock.now(), order.tote if order else None, "en")
            title_zh, body_zh = esc_rules.message(esc, self.clock.now(), order.tote if order else None, "zh")
            outgoing.append((row["id"], row["order_id"], title, f"{body}\n{title_zh}\n{body_zh}",
                             {"order_id": row["order_id"], "level": row["level"]}))
        return outgoing

    def acknowledge_escalation(self, escalation_id: int, operator: str, key: str | None = None) -> dict:
        employee = self.catalog.employee_by_id(operator) or self.catalog.employee_by_badge(operator)
        if employee is None or employee.role is not Role.SUPERVISOR:
            return _error("not_supervisor", "Only a signed-in supervisor can acknowledge an escalation.",
                          "只有已登录的主管可以确认升级。")
        at = isoformat(self.clock.now())
        with self._lock, write_tx(self._conn) as conn:
            row = conn.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
            if row is None:
                return _error("unknown_escalation", f"No escalation {escalation_id}.", f"没有升级{escalation_id}。")
            if row["acked_at"]:
                return {"status": "ok", "code": "already_acknowledged", "message": f"Already acknowledged by {row['acked_by']}.",
                        "message_zh": f"已由{row['acked_by']}确认。", "sound": "ok", "colour": "green", "next": ""}
            conn.execute("UPDATE escalations SET acked_by = ?, acked_at = ? WHERE order_id = ?",
                         (employee.employee_id, at, row["order_id"]))
            store.add_audit(conn, at, employee.employee_id, "escalation_ack", row["order_id"],
                            {"level": row["level"], "acked": False}, {"acked": True}, None, "supervisor")
            self.outbox.enqueue(conn, action="escalation_ack", object_type="order", object_id=row["order_id"],
                                operator=employee.employee_id, device=self.device_id("supervisor"),
                                location=self.location, payload={"level": row["level"]})
        self.wake()
        return {"status": "ok", "code": "acknowledged", "message": f"Escalation of {row['order_id']} acknowledged.",
                "message_zh": f"订单{row['order_id']}的升级已确认。", "sound": "ok", "colour": "green", "next": ""}

    # ------------------------------------------------------------------ views
    def _local_order(self, order_id: str) -> dict | None:
        return store.order_row(self._conn, order_id)

    @_locked
    def state(self) -> dict:
        s = self.pack
        lines = []
        if s.order:
            for sku_code, qty in s.order.quantities().items():
                sku = self.catalog.sku(sku_code)
                lines.append({"sku": sku_code, "name": sku.name if sku else sku_code, "gtin": sku.gtin if sku else None,
                              "qty": qty, "scanned": s.packed_qty(sku_code), "special": bool(sku and sku.special)})
        packaging = self.catalog.packaging(s.packaging) if s.packaging else None
        expected = None
        if s.order and s.state in (pk.State.READY_TO_WEIGH, pk.State.BLOCKED, pk.State.WEIGHED_OK) or \
                (s.order and s.complete and packaging):
            from station.tolerance import expected_weight, judge
            items = pk.parcel_items(s.order, self.catalog)
            expected_g = expected_weight(items, packaging)[0] if packaging else None
            # the range the weighing will apply: judge() on the expected weight itself gives its allowed_g
            check = judge(expected_g, expected_g, self.tolerance, self.tolerance.pct_for(sku.category for sku, _ in items)) \
                if expected_g is not None else None
            if check is not None and check.expected_g is not None and check.allowed_g is not None:
                expected = {"expected_g": str(check.expected_g.quantize(Decimal("0.1"))),
                            "allowed_g": str(check.allowed_g.quantize(Decimal("0.1"))),
                            "low_g": str((check.expected_g - check.allowed_g).quantize(Decimal("0.1"))),
                            "high_g": str((check.expected_g + check.allowed_g).quantize(Decimal("0.1")))}
        fifo = None
        if s.pending and s.pending.code in ("fifo_older_lot", "lot_unknown"):
            fifo = {"lot": s.pending.unit.lot, "older_lot": s.pending.older_lot, "older_bin": s.pending.older_bin}
        return {
            "station": self.info(),
            "operator": s.operator.as_dict() if s.operator else None,
            "session": {"state": str(s.state), "order": s.order.as_dict() if s.order else None, "lines": lines,
                        "packaging": packaging.as_dict() if packaging else None, "expected": expected, "fifo": fifo,
                        "weight": s.weight.as_dict() if s.weight else None,
                        "override_requested": self.override_reason},
            "verdict": self.verdict,
            "scale": self.scale,
            "sync": self.sync_status(),
            "devices": self.devices,
            "priority_orders": self._priority_orders(),
        }

    def _priority_orders(self) -> list[dict]:
        """Orders released to any packer by an escalation: picked, still not packed, highest priority first."""
        rows = [r for r in store.list_orders(self._conn, ("picked",)) if (r.get("priority") or 0) > 0]
        out = []
        for row in sorted(rows, key=lambda r: (-(r["priority"] or 0), r["picked_at"] or "")):
            order = self.catalog.order(row["order_id"])
            out.append({"order_id": row["order_id"], "tote": order.tote if order else None,
                        "picked_at": row["picked_at"], "priority": row["priority"]})
        return out

    def sync_status(self) -> dict:
        try:
            status = self.outbox.status(self._conn)
        except Exception as exc:  # noqa: BLE001 - a status read never breaks the page
            return {"error": str(exc)}
        return status

    @_locked
    def health(self) -> dict:
        sync = self.sync_status()
        ok = "error" not in sync
        return {"ok": ok, "station": self.id, "at": isoformat(self.clock.now()), "devices": self.devices,
                "scale": {k: self.scale.get(k) for k in ("connected", "status", "stable")}, "outbox": sync,
                "reference": self.catalog.cache.status() if hasattr(self.catalog.cache, "status") else None,
                "session": str(self.pack.state), "open_escalations": len(store.escalations(self._conn))}

    @_locked
    def metrics(self) -> str:
        from sync.metrics import render_prometheus

        lines = [render_prometheus(self.sync_status(), {"station": self.id}).rstrip("\n"),
                 "# HELP packgate_verdicts_total Verdicts shown, by status.",
                 "# TYPE packgate_verdicts_total counter"]
        for status, count in sorted(self.counters.items()):
            lines.append(f'packgate_verdicts_total{{station="{self.id}",status="{status}"}} {count}')
        lines += ["# HELP packgate_open_escalations Escalations fired and not acknowledged.",
                  "# TYPE packgate_open_escalations gauge",
                  f'packgate_open_escalations{{station="{self.id}"}} {len(store.escalations(self._conn))}']
        lines += ["# HELP packgate_device_up 1 while the device is connected.", "# TYPE packgate_device_up gauge"]
        for name, dev in sorted(self.devices.items()):
            up = 1 if dev.get("state") == "connected" else 0
            lines.append(f'packgate_device_up{{station="{self.id}",device="{name}"}} {up}')
        return "\n".join(lines) + "\n"

    @_locked
    def supervisor_overview(self, viewer: str | None = None) -> dict:
        now = self.clock.now()
        rows = store.list_orders(self._conn)
        milestones = []
        for r in rows:
            waiting = None
            last = max((r[m] for m in store.MILESTONES if r.get(m)), default=None)
            if last and r["status"] not in ("packed", "cancelled"):
                waiting = f"{int((now - parse_iso(last)).total_seconds() // 60)} min in {r['status']}"
            durations = _durations(r)
            milestones.append({**r, "waiting": waiting, "durations_s": durations, "synced_at": self._synced_at(r)})
        lots = self.catalog.all_lots()
        expiring = [{"sku": e.lot.sku, "lot": e.lot.lot, "bin": e.lot.bin, "expires": e.lot.expires.isoformat(),
                     "days_left": e.days_left}
                    for e in expiring_within(lots, now.date(), self.cfg["lots.expiry_warning_days"])]
        who = self.catalog.employee_by_id(viewer) if viewer else None
        audit = store.recent_audit(self._conn)
        return {
            "viewer": mask_record(who.as_dict(), who.role) if who else None,
            "stations": [{"id": self.id, "operator": self.pack.operator.name if self.pack.operator else None,
                          "order": self.pack.order.order_id if self.pack.order else None, "state": str(self.pack.state),
                          "scale": "connected" if self.scale.get("connected") else "disconnected",
                          "depth": self.sync_status().get("depth")}],
            "escalations": store.escalations(self._conn),
            "blocked": [{"order_id": r["order_id"], "at": r["updated_at"], "reason": r["blocked_reason"]}
                        for r in rows if r["status"] == "blocked"],
            "milestones": milestones,
            "expiring_lots": expiring,
            "audit": audit,
            "employees": [_employee_for(e, who) for e in self.catalog.employees()],
        }

    def _synced_at(self, row: dict) -> str | None:
        if row["status"] != "packed":
            return None
        pending, last = self._conn.execute(
            "SELECT SUM(state != 'sent'), MAX(sent_at) FROM sync_outbox WHERE object_type = 'order' AND object_id = ?",
            (row["order_id"],)).fetchone()
        return None if pending or last is None else last

    def close(self) -> None:
        self._conn.close()


# ---------------------------------------------------------------------- helpers
def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the request must be a JSON object"
    action = body.get("action")
    if action not in ACTIONS:
        return f"action must be one of {', '.join(ACTIONS)} (got {action!r})"
    for name in ("object_id", "operator", "device", "location", "key", "terminal", "object_type"):
        if body.get(name) is not None and not isinstance(body.get(name), str):
            return f"{name} must be a string"
    if body.get("payload") is not None and not isinstance(body["payload"], dict):
        return "payload must be an object"
    key = body.get("key")
    if key is not None and not 8 <= len(key) <= 128:
        return "key must be 8 to 128 characters"
    sha = body.get("image_sha256")
    if sha is not None and (not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        return "image_sha256 must be 64 lower-case hex characters"
    return None


def _employee_for(employee: Any, viewer: Any) -> dict:
    """An employee as ``viewer`` may see them: personal data masked by role; the badge UID (enough to
    approve an override through the API) only for supervisors."""
    record = mask_record(employee.as_dict(), viewer.role if viewer else None)
    if viewer is None or viewer.role is not Role.SUPERVISOR:
        record.pop("badge_uid", None)
    return record


def _object_of(session: Any, effect: AuditEntry) -> str | None:
    order = getattr(session, "order", None)
    return order.order_id if order is not None else None


def _task(t: pick.PickTask, picked: int) -> dict:
    return {"sku": t.sku, "name": t.name, "bin": t.bin, "lot": t.lot, "qty": t.qty, "picked": picked,
            "expires": t.expires.isoformat() if t.expires else None}


def _pick_view(s: pick.PickSession) -> dict:
    tasks = [_task(t, s.done(i)) for i, t in enumerate(s.tasks)]
    current = s.current
    return {"order_id": s.order.order_id, "tote": s.order.tote, "state": str(s.state), "tasks": tasks,
            "current_index": current, "current": tasks[current] if current is not None else None,
            "complete": s.state in (pick.PickState.TO_TOTE, pick.PickState.PICKED),
            "fifo": s.pending is not None}


def _durations(row: dict) -> dict:
    out = {}
    previous = None
    for name in ("picked_at", "verified_at", "weighed_at", "packed_at"):
        if row.get(name):
            moment = parse_iso(row[name])
            if previous is not None:
                out[name.replace("_at", "")] = round((moment - previous).total_seconds(), 3)
            previous = moment
    return out
