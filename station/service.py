"""The station: turns actions (from its own devices and from the HTTP API) into verdicts.

One ``Station`` per packing table. It owns the pack session of the kiosk and the pick sessions
of the PDAs signed in through it. Each action runs the pure state machine (``packing.step`` /
``picking.pick_step``), then writes the new session, the confirmations (outbox), audit entries,
milestones and the idempotent answer in ONE SQLite transaction; only after that commit is the
verdict shown. A failed commit (disk full, read-only) is an error verdict, never a false "done".

This module holds the core (construction, the action API, the device callbacks, the packing step
and the commit); PDA sign-in and picking are in ``station.pda``, the escalation and idle sign-out
timers in ``station.timers``, the read-only views in ``station.views``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from packgate.device.barcode import SitePatterns, interpret
from packgate.station.core import escalation as esc_rules
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station import store
from packgate.station.core.answers import error_answer
from packgate.station.core.catalog import StationCatalog
from packgate.station.runtime.config import Config
from packgate.station.runtime.devices import site_patterns
from packgate.station.core.effects import AuditEntry, Confirmation, Outcome
from packgate.station.events import EventBus
from packgate.station.core.models import LotPolicy
from packgate.station.pda import PdaDesk
from packgate.station.timers import EscalationTimers
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.core.verdicts import Verdict, make
from packgate.station.views import StationViews
from packgate.device.clock import Clock, isoformat
from packgate.sync.db import connect, write_tx
from packgate.sync.errors import StorageError

log = logging.getLogger("packgate.station")

KIOSK = "kiosk"
MIN_PARCEL_G = Decimal("5")  # a stable reading below this is an empty scale
ACTIONS = ("badge", "scan", "pick", "verify", "weigh", "reweigh", "pack", "load", "override", "fifo_take_older",
           "put_back", "cancel", "sign_out")


class Station(PdaDesk, EscalationTimers, StationViews):
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
        self.parcel_on_scale = False  # the last stable reading had a parcel on it
        self.last_scan: dict | None = None  # exactly what the last scan at the kiosk was, from any scanner
        self.last_activity: datetime | None = self.clock.now() if self.pack.operator else None
        self.scale: dict = {"connected": False, "status": None, "stable": False, "weight": None, "unit": None,
                            "grams": None}
        self.devices: dict[str, dict] = {}
        self.verdict: dict | None = None
        self.verdict_seq = 0
        self.counters: dict[str, int] = {}
        self._failed_logins: dict[str, list[float]] = {}


    # ------------------------------------------------------------------ public entry points
    def device_id(self, name: str) -> str:
        """The id a device of this station is recorded under, e.g. ST01-scale."""
        return f"{self.id}-{name}"

    def info(self) -> dict:
        return {"id": self.id, "name": self.cfg["station.name"], "language": self.cfg["station.language"]}

    def handle(self, body: dict) -> dict:
        """The action confirmation API: one request in, one verdict out (see station/openapi.py)."""
        problem = _validate(body)
        if problem:
            return error_answer("bad_request", problem, f"请求无效：{problem}")
        key = body.get("key")
        request_hash = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "key"}, sort_keys=True,
                                                 default=str).encode()).hexdigest()
        with self._lock:
            if key:
                stored = store.stored_answer(self._conn, key)
                if stored is not None:
                    if not hmac.compare_digest(stored["request_hash"], request_hash):
                        return error_answer("key_reused", f"Key {key} was already used for a different action.",
                                            f"键{key}已用于另一个操作。", key=key)
                    return {**stored["response"], "replayed": True}
            try:
                return self._dispatch(body, key, request_hash)
            except StorageError as exc:
                log.error("not saved: %s", exc)
                return self._show(error_answer("storage", f"NOT SAVED: the station could not write its database ({exc}). "
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
                return self._show(error_answer("storage", f"NOT SAVED: {exc}", f"未保存：{exc}"))

    def on_bad_input(self, raw: str, reason: str, device: str) -> dict:
        """Input a reader could not use (e.g. a wedge badge reader typing an unexpected format): kept for review."""
        with self._lock:
            try:
                return self._reject_input(raw, reason, {"device": device})
            except StorageError as exc:
                return self._show(error_answer("storage", f"NOT SAVED: {exc}", f"未保存：{exc}"))

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
            was_loaded, self.parcel_on_scale = self.parcel_on_scale, reading.grams >= MIN_PARCEL_G
            try:
                if state is pk.State.READY_TO_WEIGH and self.parcel_on_scale:
                    self._pack_step(pk.Weigh(reading.grams, True), {"device": self.device_id("scale")})
                elif state is pk.State.WEIGHED_OK and was_loaded and not self.parcel_on_scale:  # lifted off
                    self._pack_step(pk.Pack(self._photo()), {"device": self.device_id("scale")})
            except StorageError as exc:
                self._show(error_answer("storage", f"NOT SAVED: {exc}", f"未保存：{exc}"))

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
            if isinstance(grams, float):
                return self._show(error_answer("bad_request", f"payload.grams must be a decimal string such as "
                                               f"\"{grams}\", not a JSON number (floats are not exact)",
                                               f"payload.grams必须是十进制字符串（如\"{grams}\"），不能是浮点数"))
            if grams is None:
                grams, stable = self.scale.get("grams"), bool(self.scale.get("stable"))
            try:
                value = None if grams is None else Decimal(str(grams))
            except InvalidOperation:
                return self._show(error_answer("bad_request", f"grams {grams!r} is not a number", f"重量{grams!r}不是数字"))
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
        return self._show(error_answer("bad_request", f"action {action!r} is not for the packing kiosk",
                                       f"操作{action!r}不适用于打包台"))

    def _override(self, uid: str, reason: str, meta: dict) -> dict:
        event: Any = pk.SupervisorOverride(uid, reason) if self.pack.state is pk.State.BLOCKED \
            else pk.FifoOverride(uid, reason)
        answer = self._pack_step(event, meta)
        if answer["status"] != "error":
            self.override_reason = None
        return answer

    def _scan_kiosk(self, scan: Any, meta: dict) -> dict:
        self.last_scan = {"raw": scan.raw.replace("\x1d", "<GS>"), "kind": scan.kind, "device": meta.get("device")}
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
        return pk.PackContext(catalog=self.catalog, today=self.clock.now().date(), tolerance=self.tolerance,
                              lot_policy=self.lot_policy, packed_serials=store.PackedSerials(self._conn))

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
                                               location=effect.location or meta.get("location") or self.location,
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

    def _local_order(self, order_id: str) -> dict | None:
        return store.order_row(self._conn, order_id)

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


def _object_of(session: Any, effect: AuditEntry) -> str | None:
    order = getattr(session, "order", None)
    if order is not None:
        return order.order_id
    return (effect.before or {}).get("order_id")  # e.g. an order abandoned by signing out
