"""Read-only views of a station: the kiosk state, health, metrics, the supervisor page.

Each view reads under the station lock, so it never sees a write that rolls back.
"""
from __future__ import annotations

from typing import Any, Callable

from packgate.device.clock import isoformat, parse_iso
from packgate.station import store
from packgate.station.core import packing as pk
from packgate.station.core.lots import expiring_within
from packgate.station.core.models import Employee, Role
from packgate.station.core.privacy import mask_record
from packgate.station.core.tolerance import weight_range
from packgate.station.parts import Parts


class StationViews:
    def __init__(self, parts: Parts, info: Callable[[], dict]):
        self.parts = parts
        self.info = info

    def state(self) -> dict:
        p = self.parts
        with p.lock:
            live = p.live
            s = live.pack
            lines = []
            if s.order:
                for sku_code, qty in s.order.quantities().items():
                    sku = p.catalog.sku(sku_code)
                    lines.append({"sku": sku_code, "name": sku.name if sku else sku_code,
                                  "gtin": sku.gtin if sku else None, "qty": qty, "scanned": s.packed_qty(sku_code),
                                  "special": bool(sku and sku.special)})
            packaging = p.catalog.packaging(s.packaging) if s.packaging else None
            expected = None
            if s.order and (s.state in (pk.State.READY_TO_WEIGH, pk.State.BLOCKED, pk.State.WEIGHED_OK) or
                            (s.complete and packaging)):
                shown = weight_range(pk.parcel_items(s.order, p.catalog), packaging, p.tolerance)
                expected = shown.as_dict() if shown else None
            fifo = None
            if s.pending and s.pending.code in ("fifo_older_lot", "lot_unknown"):
                fifo = {"lot": s.pending.unit.lot, "older_lot": s.pending.older_lot, "older_bin": s.pending.older_bin}
            return {
                "station": self.info(),
                "operator": s.operator.as_dict() if s.operator else None,
                "session": {"state": str(s.state), "order": s.order.as_dict() if s.order else None, "lines": lines,
                            "packaging": packaging.as_dict() if packaging else None, "expected": expected,
                            "fifo": fifo, "weight": s.weight.as_dict() if s.weight else None,
                            "override_requested": live.override_reason},
                "verdict": live.verdict,
                "scale": live.scale.view(),
                "sync": self.sync_status(),
                "devices": live.devices,
                "priority_orders": self._priority_orders(),
                "last_scan": live.last_scan,
            }

    def _priority_orders(self) -> list[dict]:
        """Orders released to any packer by an escalation: picked, still not packed, highest priority first."""
        p = self.parts
        rows = [r for r in store.list_orders(p.conn, ("picked",)) if (r.get("priority") or 0) > 0]
        out = []
        for row in sorted(rows, key=lambda r: (-(r["priority"] or 0), r["picked_at"] or "")):
            order = p.catalog.order(row["order_id"])
            out.append({"order_id": row["order_id"], "tote": order.tote if order else None,
                        "picked_at": row["picked_at"], "priority": row["priority"]})
        return out

    def sync_status(self) -> dict:
        try:
            status = self.parts.outbox.status(self.parts.conn)
        except Exception as exc:  # noqa: BLE001 - a status read never breaks the page
            return {"error": str(exc)}
        reference = status.get("reference") or {}
        status["online"] = not status.get("consecutive_failures") and not reference.get("last_error")
        return status

    def health(self) -> dict:
        p = self.parts
        with p.lock:
            live = p.live
            sync = self.sync_status()
            problems = [f"station database: {sync['error']}"] if "error" in sync else []
            problems += [f"{name} {dev['state']}: {dev.get('detail') or ''}".rstrip(": ")
                         for name, dev in sorted(live.devices.items())
                         if dev.get("state") in ("disconnected", "retrying")]
            problems += [problem for problem in (live.scale.problem(),) if problem]
            if live.storage_fault:
                problems.append(f"station database: {live.storage_fault}")
            scale = live.scale.view()
            return {"ok": not problems, "problems": problems, "station": p.id, "at": isoformat(p.clock.now()),
                    "devices": live.devices, "scale": {k: scale.get(k) for k in ("connected", "responding", "status", "stable")},
                    "outbox": sync, "reference": p.catalog.cache.status(), "session": str(live.pack.state),
                    "open_escalations": len(store.escalations(p.conn))}

    def metrics(self) -> str:
        from packgate.sync.metrics import render_prometheus

        p = self.parts
        with p.lock:
            lines = [render_prometheus(self.sync_status(), {"station": p.id}).rstrip("\n"),
                     "# HELP packgate_verdicts_total Verdicts shown, by status.",
                     "# TYPE packgate_verdicts_total counter"]
            for status, count in sorted(p.live.counters.items()):
                lines.append(f'packgate_verdicts_total{{station="{p.id}",status="{status}"}} {count}')
            lines += ["# HELP packgate_open_escalations Escalations fired and not acknowledged.",
                      "# TYPE packgate_open_escalations gauge",
                      f'packgate_open_escalations{{station="{p.id}"}} {len(store.escalations(p.conn))}']
            lines += ["# HELP packgate_event_streams Open /api/v1/events streams (pages with live updates).",
                      "# TYPE packgate_event_streams gauge", f'packgate_event_streams{{station="{p.id}"}} {p.bus.streams}']
            lines += ["# HELP packgate_scale_responding 1 while the scale sends readings (within scale.fresh_s).",
                      "# TYPE packgate_scale_responding gauge",
                      f'packgate_scale_responding{{station="{p.id}"}} {int(p.live.scale.responding())}']
            lines += ["# HELP packgate_device_up 1 while the device is connected.", "# TYPE packgate_device_up gauge"]
            for name, dev in sorted(p.live.devices.items()):
                up = 1 if dev.get("state") == "connected" else 0
                lines.append(f'packgate_device_up{{station="{p.id}",device="{name}"}} {up}')
        return "\n".join(lines) + "\n"

    def supervisor_overview(self, viewer: str | None = None) -> dict:
        p = self.parts
        with p.lock:
            now = p.clock.now()
            live = p.live
            rows = store.list_orders(p.conn)
            milestones = []
            for r in rows:
                waiting = None
                last = max((r[m] for m in store.MILESTONES if r.get(m)), default=None)
                if last and r["status"] not in ("packed", "cancelled"):
                    waiting = f"{int((now - parse_iso(last)).total_seconds() // 60)} min in {r['status']}"
                synced = store.synced_at(p.conn, r["order_id"]) if r["status"] == "packed" else None
                milestones.append({**r, "waiting": waiting, "durations_s": _durations(r), "synced_at": synced})
            expiring = [{"sku": e.lot.sku, "lot": e.lot.lot, "bin": e.lot.bin,
                         "expires": e.lot.expires.isoformat() if e.lot.expires else None, "days_left": e.days_left}
                        for e in expiring_within(p.catalog.all_lots(), now.date(), p.cfg["lots.expiry_warning_days"])]
            who = p.catalog.employee_by_id(viewer) if viewer else None
            return {
                "viewer": mask_record(who.as_dict(), who.role) if who else None,
                "stations": [{"id": p.id, "operator": live.pack.operator.name if live.pack.operator else None,
                              "order": live.pack.order.order_id if live.pack.order else None,
                              "state": str(live.pack.state),
                              "scale": "connected" if live.scale.connected else "disconnected",
                              "depth": self.sync_status().get("depth")}],
                "escalations": store.escalations(p.conn),
                "blocked": [{"order_id": r["order_id"], "at": r["updated_at"], "reason": r["blocked_reason"]}
                            for r in rows if r["status"] == "blocked"],
                "milestones": milestones,
                "expiring_lots": expiring,
                "audit": store.recent_audit(p.conn),
                "rejected_input": store.recent_rejected(p.conn),
                "reference_problems": p.catalog.cache.problems(),
                "employees": [_employee_for(e, who) for e in p.catalog.employees()],
            }

    def is_supervisor(self, employee_id: str | None) -> bool:
        employee = self.parts.catalog.employee_by_id(employee_id) if employee_id else None
        return employee is not None and employee.role is Role.SUPERVISOR

    def employee_view(self, employee_id: str | None, viewer: str | None) -> dict | None:
        catalog = self.parts.catalog
        employee = catalog.employee_by_id(employee_id) if employee_id else None
        if employee is None:
            return None
        who = catalog.employee_by_id(viewer) if viewer else None
        return mask_record(employee.as_dict(), who.role if who else None)


def _employee_for(employee: Employee, viewer: Employee | None) -> dict:
    """An employee as ``viewer`` may see them: personal data masked by role; the badge UID (enough to
    approve an override through the API) only for supervisors."""
    record = mask_record(employee.as_dict(), viewer.role if viewer else None)
    if viewer is None or viewer.role is not Role.SUPERVISOR:
        record.pop("badge_uid", None)
    return record


def _durations(row: dict) -> dict:
    out: dict[str, Any] = {}
    previous = None
    for name in ("picked_at", "verified_at", "weighed_at", "packed_at"):
        if row.get(name):
            moment = parse_iso(row[name])
            if previous is not None:
                out[name.replace("_at", "")] = round((moment - previous).total_seconds(), 3)
            previous = moment
    return out
