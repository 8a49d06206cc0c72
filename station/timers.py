"""The station's timers: escalations of picked orders left unpacked (fired, notified, acknowledged) and the
idle sign-out of the kiosk. ``tick()`` fires what is due; notifications go out later, outside the lock."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Callable

from packgate.device.clock import isoformat, parse_iso
from packgate.station import store
from packgate.station.core import escalation as esc_rules
from packgate.station.core import packing as pk
from packgate.station.core.models import Role
from packgate.station.core.verdicts import answer
from packgate.station.interception import held_orders
from packgate.station.parts import Parts
from packgate.station.ports import Notifier
from packgate.sync.common.db import write_tx

log = logging.getLogger("packgate.station")

PackStep = Callable[[pk.Event, dict[str, Any]], dict]


class EscalationTimers:
    def __init__(self, parts: Parts, notifier: Notifier | None, pack_step: PackStep, wake: Callable[[], None],
                 publish_state: Callable[[], None]):
        self.parts = parts
        self.notifier = notifier
        self.pack_step = pack_step
        self.wake = wake
        self.publish_state = publish_state
        self._notify_lock = threading.Lock()

    def _escalation_inputs(self) -> tuple[dict, set, set, set, dict]:
        """Only the orders picked and still unpacked, and their escalations: the cost of a tick does not
        grow with the orders packed earlier in the shift (packed and cancelled orders are left out here, so the
        ``packed`` set the rules take holds only the orders the WMS holds or cancelled now); how long the WMS
        held the others."""
        conn = self.parts.conn
        if self.parts.cfg["upstream.kind"] == "hub":
            return {}, set(), set(), set(), {}  # the site hub fires escalations for the whole site
        picked_at = {oid: parse_iso(at) for oid, at in store.picked_unpacked(conn).items()}
        all_esc = store.escalations_of_unfinished(conn)
        fired = {(e["order_id"], e["level"]) for e in all_esc}
        acked = {e["order_id"] for e in all_esc if e["acked_at"]}
        stopped, paused = held_orders(conn)
        return picked_at, fired, acked, stopped, paused

    def tick(self) -> datetime | None:
        """Fire what is due now (escalations, idle sign-out); returns when to call again (None: nothing pending).

        Notifications go out after the station lock is released: a slow or unreachable chat service
        never makes the packer wait."""
        p = self.parts
        with p.lock:
            now = p.clock.now()
            picked_at, fired, acked, packed, paused = self._escalation_inputs()
            for due in esc_rules.due(picked_at, now, p.escalation, fired, acked, packed, paused):
                self._fire(due, now)
            idle_s = p.cfg["session.idle_sign_out_s"]
            live = p.live
            if live.pack.operator and pk.should_sign_out(live.last_activity, now, idle_s):
                self.pack_step(pk.SignOut("idle", confirmed=True), {"device": p.device_id("kiosk")})
            picked_at, fired, acked, packed, paused = self._escalation_inputs()
            nxt = esc_rules.next_deadline(picked_at, p.escalation, fired, acked, packed, paused)
            if live.pack.operator and live.last_activity:
                idle_at = live.last_activity + timedelta(seconds=idle_s)
                nxt = idle_at if nxt is None else min(nxt, idle_at)
        self._retry_notifications()
        return nxt

    def _fire(self, due: esc_rules.Escalation, now: datetime) -> None:
        p = self.parts
        at = isoformat(now)
        with write_tx(p.conn) as conn:
            if not store.add_escalation(conn, due.order_id, due.level, isoformat(due.deadline), at):
                return
            if due.release_priority:
                store.set_order(conn, due.order_id, at, priority=1)
            p.outbox.enqueue(conn, action="escalate", object_type="order", object_id=due.order_id, operator=None,
                             device=p.device_id("agent"), location=p.location,
                             payload={"level": due.level, "deadline": isoformat(due.deadline), "target": due.target,
                                      "picked_at": isoformat(due.picked_at),
                                      "release_priority": due.release_priority})
        log.warning("escalation level %s fired", due.level, extra={"order": due.order_id})
        p.bus.publish("escalation", {"order_id": due.order_id, "level": due.level})
        self.publish_state()

    def _retry_notifications(self) -> None:
        """Send the notifications of fired escalations not sent yet (retried on every tick until sent).

        ``notified``: 0 = to send, 1 = sent, -1 = dropped because the order was packed, cancelled or
        acknowledged before it could be sent (no stale alarm). The network call runs outside the
        station lock; ``_notify_lock`` keeps two ticks from sending the same row."""
        if not self._notify_lock.acquire(blocking=False):
            return
        p = self.parts
        try:
            with p.lock:
                outgoing = self._notifications_to_send()
            for row_id, order_id, title, body, context in outgoing:
                ok, error = (True, None) if self.notifier is None else self.notifier.send(title, body, context)
                with p.lock, write_tx(p.conn):
                    store.mark_notified(p.conn, row_id, 1 if ok else 0, error)
                if not ok:
                    log.warning("notification failed, will retry: %s", error, extra={"order": order_id})
                    break
        finally:
            self._notify_lock.release()

    def _notifications_to_send(self) -> list[tuple[int, str, str, str, dict]]:
        p = self.parts
        outgoing = []
        for row in store.escalations_to_notify(p.conn):
            picked = store.order_row(p.conn, row["order_id"]) or {}
            settled = "acknowledged" if row["acked_at"] else picked.get("status") \
                if picked.get("status") in ("packed", "cancelled") else None
            if settled:
                with write_tx(p.conn):
                    store.mark_notified(p.conn, row["id"], -1,
                                        f"not sent: the order was {settled} before the notification went out")
                continue
            order = p.catalog.order(row["order_id"])
            esc = esc_rules.Escalation(row["order_id"], row["level"], parse_iso(row["deadline"]),
                                       parse_iso(picked["picked_at"]) if picked.get("picked_at") else parse_iso(row["deadline"]),
                                       "shift_supervisor", row["level"] == 1)
            title, body = esc_rules.message(esc, p.clock.now(), order.tote if order else None, "en")
            title_zh, body_zh = esc_rules.message(esc, p.clock.now(), order.tote if order else None, "zh")
            outgoing.append((row["id"], row["order_id"], title, f"{body}\n{title_zh}\n{body_zh}",
                             {"order_id": row["order_id"], "level": row["level"]}))
        return outgoing

    def acknowledge(self, escalation_id: int, operator: str) -> dict:
        p = self.parts
        employee = p.catalog.employee_by_id(operator) or p.catalog.employee_by_badge(operator)
        if employee is None or employee.role is not Role.SUPERVISOR:
            return answer("not_supervisor", problem="Only a signed-in supervisor can acknowledge an escalation.",
                          problem_zh="只有已登录的主管可以确认升级。")
        at = isoformat(p.clock.now())
        with p.lock, write_tx(p.conn) as conn:
            row = store.escalation(conn, escalation_id)
            if row is None:
                return answer("unknown_escalation", escalation_id=escalation_id)
            if row["acked_at"]:
                return answer("already_acknowledged", by=row["acked_by"])
            store.acknowledge_escalations(conn, row["order_id"], employee.employee_id, at)
            store.add_audit(conn, at, employee.employee_id, "escalation_ack", row["order_id"],
                            {"level": row["level"], "acked": False}, {"acked": True}, None, "supervisor")
            p.outbox.enqueue(conn, action="escalation_ack", object_type="order", object_id=row["order_id"],
                             operator=employee.employee_id, device=p.device_id("supervisor"),
                             location=p.location, payload={"level": row["level"]})
        self.wake()
        return answer("acknowledged", order_id=row["order_id"])
