"""The station's timers, mixed into ``Station``: escalations of picked orders left unpacked (fired,
notified, acknowledged) and the idle sign-out of the kiosk."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from packgate.station.core import escalation as esc_rules
from packgate.station.core import packing as pk
from packgate.station import store
from packgate.station.core.answers import error_answer
from packgate.station.core.models import Role
from packgate.device.clock import isoformat, parse_iso
from packgate.sync.db import write_tx

log = logging.getLogger("packgate.station")


class EscalationTimers:
    """``tick()`` fires what is due; notifications go out later, outside the station lock."""

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
            return error_answer("not_supervisor", "Only a signed-in supervisor can acknowledge an escalation.",
                                "只有已登录的主管可以确认升级。")
        at = isoformat(self.clock.now())
        with self._lock, write_tx(self._conn) as conn:
            row = conn.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
            if row is None:
                return error_answer("unknown_escalation", f"No escalation {escalation_id}.", f"没有升级{escalation_id}。")
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
