"""Read-only views of a ``Station``, mixed into it: the kiosk state, health, metrics, the supervisor page."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from packgate.station.core import packing as pk
from packgate.station import store
from packgate.station.locking import locked
from packgate.station.core.lots import expiring_within
from packgate.station.core.models import Role
from packgate.station.core.privacy import mask_record
from packgate.station.core.tolerance import expected_weight, judge
from packgate.device.clock import isoformat, parse_iso


class StationViews:
    """Each public view reads the station's connection under its lock (``locked``)."""

    @locked
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
            items = pk.parcel_items(s.order, self.catalog)
            expected_g = expected_weight(items, packaging)[0] if packaging else None
            # the range the weighing will apply: judge() on the expected weight itself gives its allowed_g
            check = judge(expected_g, expected_g, self.tolerance, self.tolerance.pct_for(sku.category for sku, _ in items)) \
                if expected_g is not None else None
            if check is not None and check.expected_g is not None and check.allowed_g is not None:
                tenth = Decimal("0.1")  # the shown range is rounded inward: a weight shown inside it passes
                expected = {"expected_g": str(check.expected_g.quantize(tenth)),
                            "allowed_g": str(check.allowed_g.quantize(tenth, rounding=ROUND_FLOOR)),
                            "low_g": str((check.expected_g - check.allowed_g).quantize(tenth, rounding=ROUND_CEILING)),
                            "high_g": str((check.expected_g + check.allowed_g).quantize(tenth, rounding=ROUND_FLOOR))}
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
            "last_scan": self.last_scan,
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
        reference = status.get("reference") or {}
        status["online"] = not status.get("consecutive_failures") and not reference.get("last_error")
        return status

    @locked
    def health(self) -> dict:
        sync = self.sync_status()
        problems = [f"station database: {sync['error']}"] if "error" in sync else []
        problems += [f"{name} {dev['state']}: {dev.get('detail') or ''}".rstrip(": ")
                     for name, dev in sorted(self.devices.items()) if dev.get("state") in ("disconnected", "retrying")]
        return {"ok": not problems, "problems": problems, "station": self.id, "at": isoformat(self.clock.now()), "devices": self.devices,
                "scale": {k: self.scale.get(k) for k in ("connected", "status", "stable")}, "outbox": sync,
                "reference": self.catalog.cache.status() if hasattr(self.catalog.cache, "status") else None,
                "session": str(self.pack.state), "open_escalations": len(store.escalations(self._conn))}

    @locked
    def metrics(self) -> str:
        from packgate.sync.metrics import render_prometheus

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

    @locked
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
            "rejected_input": store.recent_rejected(self._conn),
            "employees": [_employee_for(e, who) for e in self.catalog.employees()],
        }

    def _synced_at(self, row: dict) -> str | None:
        if row["status"] != "packed":
            return None
        pending, last = self._conn.execute(
            "SELECT SUM(state != 'sent'), MAX(sent_at) FROM sync_outbox WHERE object_type = 'order' AND object_id = ?",
            (row["order_id"],)).fetchone()
        return None if pending or last is None else last


def _employee_for(employee: Any, viewer: Any) -> dict:
    """An employee as ``viewer`` may see them: personal data masked by role; the badge UID (enough to
    approve an override through the API) only for supervisors."""
    record = mask_record(employee.as_dict(), viewer.role if viewer else None)
    if viewer is None or viewer.role is not Role.SUPERVISOR:
        record.pop("badge_uid", None)
    return record


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
