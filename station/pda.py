"""PDA sign-in (badge code + PIN, locked after repeated wrong PINs) and picking, mixed into ``Station``."""
from __future__ import annotations

import hmac
import logging
from typing import Any

from packgate.device.barcode import interpret
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station import store
from packgate.station.core.answers import error_answer
from packgate.station.locking import locked
from packgate.station.core.models import Role
from packgate.station.core.privacy import mask_record
from packgate.station.core.verdicts import make
from packgate.device.clock import isoformat
from packgate.sync.db import write_tx

log = logging.getLogger("packgate.station")

LOGIN_ATTEMPTS, LOGIN_LOCK_S = 5, 300.0  # wrong PINs per badge before a 5-minute lock


class PdaDesk:
    """The PDA side of a ``Station``: sign-in, the orders to pick and the pick sessions (``self.picks``)."""

    def pda_login(self, badge: str, pin: str) -> dict:
        code = badge.strip().upper()
        now = self.clock.monotonic()
        failures = [t for t in self._failed_logins.get(code, []) if now - t < LOGIN_LOCK_S]
        if len(failures) >= LOGIN_ATTEMPTS:
            wait = int(LOGIN_LOCK_S - (now - failures[-LOGIN_ATTEMPTS])) + 1
            return error_answer("login_locked", f"Too many wrong PINs for this badge: try again in {wait} s or ask a supervisor.",
                                f"此工卡密码错误次数过多：请{wait}秒后再试或联系主管。")
        employee = self.catalog.employee_by_badge(code) or self.catalog.employee_by_id(badge.strip())
        if employee is None or not employee.pin or not hmac.compare_digest(employee.pin, pin.strip()):
            self._failed_logins[code] = failures + [now]
            log.warning("wrong badge code or PIN on the PDA login", extra={"fields": {"badge": code[-4:]}})
            return error_answer("bad_login", "Badge code or PIN is wrong.", "工卡号或密码错误。")
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

    @locked
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
            return error_answer("not_signed_in", "Sign in on the PDA first.", "请先在手持终端登录。")
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
            return error_answer("no_pick", "Choose an order to pick first.", "请先选择要拣货的订单。")
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
            return error_answer("bad_request", f"action {action!r} is not for picking", f"操作{action!r}不适用于拣货")
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
