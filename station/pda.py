"""The PDA desk of a station: sign-in (badge code + PIN through ``signin.PinCheck``), the orders to pick
and the pick sessions of the PDAs signed in through this station.

Invariants: every PDA is a device of its own in every confirmation (``<station>-pda-<name>``: the name the PDA page
made once and keeps, or the one named in its settings; ``<station>-pda`` when a client names none); every scan a PDA
makes that is refused (a red verdict) is kept for review with the verdict's code, like the kiosk's."""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

from packgate.device.clock import isoformat
from packgate.device.codes import canonical_badge
from packgate.device.scanner.barcode import interpret
from packgate.station import store
from packgate.station.core import intake
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station.core.effects import Outcome
from packgate.station.core.verdicts import Verdict, answer, make
from packgate.station.parts import Parts
from packgate.station.signin import PinCheck
from packgate.sync.common.db import write_tx

log = logging.getLogger("packgate.station")

Commit = Callable[[Outcome, dict, str, Callable[[Any], None] | None], dict]
EmployeeView = Callable[[str | None, str | None], dict | None]
PDA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def pda_device(parts: Parts, named: Any) -> str:
    """The device id a PDA's confirmations carry: ``ST01-pda-7f3a9c`` for a PDA that names itself ``pda-7f3a9c``
    (or ``7f3a9c``), ``ST01-pda`` for a client that names no usable device."""
    if not isinstance(named, str) or not PDA_NAME.fullmatch(named) or named == "pda":
        return parts.device_id("pda")
    if named.startswith(f"{parts.id}-pda"):
        return named
    return parts.device_id(named if named.startswith("pda-") else f"pda-{named}")


class PdaDesk:
    def __init__(self, parts: Parts, commit: Commit, wake: Callable[[], None], employee_view: EmployeeView,
                 pins: PinCheck):
        self.parts = parts
        self.pins = pins
        self.commit = commit
        self.wake = wake
        self.employee_view = employee_view

    def login(self, badge: str, pin: str, device: Any = None) -> dict:
        p = self.parts
        terminal = pda_device(p, device)
        employee = self.pins.verify(badge, pin, "pda_sign_in", terminal)
        if isinstance(employee, dict):
            return employee
        with p.lock, write_tx(p.conn) as conn:
            p.outbox.enqueue(conn, action="badge", object_type="employee", object_id=employee.employee_id,
                             operator=employee.employee_id, device=terminal, location=p.location,
                             payload={"event": "sign_in", "terminal": "pda"})
        return {**make("signed_in", hint=False, name=employee.name).as_dict(),
                "employee": self.employee_view(employee.employee_id, employee.employee_id)}

    def _context(self) -> pick.PickContext:
        p = self.parts
        return pick.PickContext(catalog=p.catalog, today=p.clock.now().date(), lot_policy=p.lot_policy)

    def pick_view(self, order_id: str, employee_id: str) -> dict:
        p = self.parts
        session = p.live.picks.get(employee_id)
        if session is None or session.order.order_id != order_id:
            order = p.catalog.order(order_id)
            if order is None:
                return {"order_id": order_id, "tasks": [], "error": "unknown order"}
            plan = pick.pick_list(order, p.catalog, p.clock.now().date(), p.lot_policy)
            return {"order_id": order_id, "tote": order.tote, "tasks": [_task(t, 0) for t in plan.tasks],
                    "current_index": 0, "current": _task(plan.tasks[0], 0) if plan.tasks else None,
                    "complete": False, "fifo": False}
        return _pick_view(session)

    def handle(self, body: dict, meta: dict) -> dict:
        """One PDA action (called under the station lock)."""
        p = self.parts
        employee_id = body.get("operator")
        employee = p.catalog.employee_by_id(employee_id) if employee_id else None
        if employee is None and employee_id:
            employee = p.catalog.employee_by_badge(str(employee_id))
        if employee is None:
            return answer("not_signed_in", problem="Sign in on the PDA first.", problem_zh="请先在手持终端登录。")
        action = body["action"]
        meta = {**meta, "device": pda_device(p, body.get("device"))}
        shown = self._handle(body, employee, meta)
        if action == "scan" and shown.get("status") == "error":
            with write_tx(p.conn):
                store.record_rejected(p.conn, isoformat(p.clock.now()), meta["device"], str(body.get("object_id") or ""),
                                      str(shown.get("code")))
        return shown

    def _handle(self, body: dict, employee: Any, meta: dict) -> dict:
        p = self.parts
        action, payload = body["action"], body.get("payload") or {}
        if action == "pick":
            return self._start(str(body.get("object_id") or ""), employee, meta)
        session = p.live.picks.get(employee.employee_id)
        if session is None:
            return answer("no_pick")
        event: Any
        if action == "scan":
            scan = interpret(str(body.get("object_id") or ""), p.patterns, source=meta["device"])
            event = intake.pda_scan(scan, session.state)
        elif action == "fifo_take_older":
            event = pk.FifoTakeOlder()
        elif action == "put_back":
            event = pk.PutBack()
        elif action == "override":  # the supervisor proves presence at the PDA with badge + PIN
            uid, present = str(payload.get("supervisor_badge") or ""), False
            if payload.get("supervisor_pin") is not None:
                proven = self.pins.verify(uid, payload["supervisor_pin"], "override", meta["device"])
                if isinstance(proven, dict):
                    return proven
                uid, present = proven.badge_uid, True
            event = pk.FifoOverride(canonical_badge(uid), str(payload.get("reason") or ""), present)
        else:
            return answer("bad_request", problem=f"action {action!r} is not for picking",
                          problem_zh=f"操作{action!r}不适用于拣货")
        return self._step(session, event, employee.employee_id, meta)

    def _start(self, order_id: str, employee: Any, meta: dict) -> dict:
        p = self.parts
        order = p.catalog.order(order_id)
        if order is None:
            return make("unknown_order", code=order_id).as_dict()
        current = p.live.picks.get(employee.employee_id)
        if current is not None and current.order.order_id == order.order_id:
            return {**_resumed(current).as_dict(), "data": {"pick": _pick_view(current)}}
        outcome = pick.start_pick(order, employee, self._context())
        if outcome.session is None:
            return dict(outcome.verdict.as_dict())
        at = isoformat(p.clock.now())
        started = {**outcome.verdict.as_dict(), "data": {**outcome.verdict.data, "pick": _pick_view(outcome.session)}}
        with write_tx(p.conn) as conn:
            store.set_order(conn, order.order_id, at, status="picking", station=p.id)
            store.save_session(conn, f"pda:{employee.employee_id}", outcome.session.to_dict(), at)
            if meta.get("key"):  # a retried start returns this answer (replayed), like every keyed action
                store.store_answer(conn, meta["key"], meta["request_hash"], started, at)
        p.live.picks[employee.employee_id] = outcome.session
        return started

    def _step(self, session: pick.PickSession, event: Any, employee_id: str, meta: dict) -> dict:
        p = self.parts
        outcome = pick.pick_step(session, event, self._context())
        after: pick.PickSession = outcome.session
        at = isoformat(p.clock.now())

        def local_writes(conn: Any) -> None:
            done = after.state is pick.PickState.PICKED
            store.save_session(conn, f"pda:{employee_id}", {} if done else after.to_dict(), at)
            if done:
                store.set_order(conn, after.order.order_id, at, status="picked", picked_at=at, station=None)

        result = self.commit(outcome, meta, at, local_writes if outcome.effects or after != session else None)
        if after.state is pick.PickState.PICKED:
            p.live.picks.pop(employee_id, None)
            self.wake()
        else:
            p.live.picks[employee_id] = after
        return {**result, "data": {**result.get("data", {}), "pick": _pick_view(after)}}


def _resumed(s: pick.PickSession) -> Verdict:
    """The verdict of a pick taken up again: the step the pick list is at (the tote when every item is picked)."""
    if s.current is None:
        return make("pick_complete", tote=s.order.tote or "-")
    step = {pick.PickState.TO_BIN: "scan_bin", pick.PickState.AWAITING_FIFO_DECISION: "take_older_lot_or_override"}
    return make("pick_started", order_id=s.order.order_id, tasks=len(s.tasks), bin=s.tasks[s.current].bin or "-",
                next=step.get(s.state, "scan_item"))


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
