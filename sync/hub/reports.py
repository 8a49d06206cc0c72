"""The shift/day report a manager reads, from what the hub recorded in a window of its own clock: parcels per table
and per packer, pass rate per table (weighings that passed), weight failures, overrides, interceptions, the average
time of each stage, the backlog when the report was made, the 24-hour ship rate and the day's reconciliation with
the WMS; as a dict (the page and ``/api/reports``), as CSV, as a plain-text message (the scheduled send).

Definitions (docs/site/reports.md): a parcel is a ``pack`` confirmation received in the window; an order's stage
times come from its milestones on the hub's clock (picked → opened at a table → packed → handed over) for orders
packed in the window; the 24-hour ship rate is, of the orders whose first floor step fell in the window, the share
handed over (or shipped at the table) within 24 hours of it.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from packgate.device.clock import Clock, isoformat, parse_iso
from packgate.sync.hub import alert_rules, reconciliation, store
from packgate.sync.hub.alert_rules import Finding
from packgate.sync.hub.alerts import REPORT, raise_alert
from packgate.sync.hub.engine import Conn

STAGE_SPANS = (("picking", "picked", "pick"), ("picked", "packing", "wait_for_table"),
               ("packing", "packed", "pack"), ("packed", "shipped", "dock"))
WAIT_FOR_WMS = timedelta(minutes=30)
FIRST_STEPS = ("picking", "picked", "packing", "weighed", "blocked", "packed", "shipped")


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def build(conn: Conn, since: datetime, until: datetime, now: datetime, station_name: Any = str) -> dict[str, Any]:
    window = (store.utc(since), store.utc(until))
    rows = conn.execute("SELECT station, action, operator, body FROM hub_confirmations WHERE received_utc >= ?"
                        " AND received_utc < ? AND action IN ('pack', 'weigh', 'override')", window)
    parcels: Counter[str] = Counter()
    packers: Counter[str] = Counter()
    weighed: dict[str, Counter[str]] = defaultdict(Counter)
    overrides: Counter[str] = Counter()
    for row in rows:
        payload = json.loads(row["body"]).get("payload") or {}
        if row["action"] == "pack":
            parcels[row["station"]] += 1
            packers[row["operator"] or "?"] += 1
        elif row["action"] == "weigh":
            weighed[row["station"]]["pass" if payload.get("result") == "pass" else "fail"] += 1
        else:
            overrides[str(payload.get("kind") or "other")] += 1
    names = {e["employee_id"]: e.get("name", e["employee_id"]) for e in store.ref_all(conn, "employees")}
    tables = sorted(set(parcels) | set(weighed))
    per_table = [{"station": s, "table": station_name(s), "parcels": parcels[s], "weighings": sum(weighed[s].values()),
                  "weight_failures": weighed[s]["fail"],
                  "pass_rate": round(weighed[s]["pass"] / sum(weighed[s].values()), 4) if weighed[s] else None}
                 for s in tables]
    all_weighed = sum(sum(c.values()) for c in weighed.values())
    spans: dict[str, list[float]] = defaultdict(list)
    started = shipped_24h = 0
    for order in conn.execute("SELECT order_id, milestones FROM hub_orders WHERE updated_at >= ?",
                              (isoformat(since - timedelta(days=1)),)):
        marks = {k: parse_iso(v) for k, v in json.loads(order["milestones"]).items() if isinstance(v, str)}
        packed = marks.get("packed")
        if packed is not None and since <= packed < until:
            for start, end, name in STAGE_SPANS:
                if start in marks and end in marks and marks[end] >= marks[start]:
                    spans[name].append((marks[end] - marks[start]).total_seconds() / 60)
        first = min((marks[k] for k in FIRST_STEPS if k in marks), default=None)
        if first is not None and since <= first < until:
            started += 1
            if "shipped" in marks and marks["shipped"] - first <= timedelta(hours=24):
                shipped_24h += 1
    intercepted = conn.execute("SELECT order_id, wms_status, wms_reason, wms_at, stage FROM hub_orders"
                               " WHERE wms_status IN ('held', 'cancelled') ORDER BY wms_at")
    intercepted = [o for o in intercepted if o["wms_at"] and since <= parse_iso(o["wms_at"]) < until]
    waiting = alert_rules.backlog(conn)
    day = since.date() if until - since == timedelta(days=1) else None
    return {
        "since": isoformat(since), "until": isoformat(until), "made_at": isoformat(now),
        "parcels": sum(parcels.values()), "per_table": per_table,
        "per_packer": [{"operator": k, "name": names.get(k, k), "parcels": n} for k, n in packers.most_common()],
        "weighings": all_weighed, "weight_failures": sum(c["fail"] for c in weighed.values()),
        "pass_rate": round(sum(c["pass"] for c in weighed.values()) / all_weighed, 4) if all_weighed else None,
        "overrides": sum(overrides.values()), "overrides_by_kind": dict(overrides),
        "interceptions": len(intercepted), "intercepted": intercepted,
        "stage_minutes": {name: _avg(spans[name]) for _, _, name in STAGE_SPANS},
        "backlog": len(waiting), "backlog_order_ids": sorted(str(o["order_id"]) for o in waiting)[:50],
        "started": started, "shipped_within_24h": shipped_24h,
        "ship_rate_24h": round(shipped_24h / started, 4) if started else None,
        "reconciliation": reconciliation.kept(conn, day) if day else None,
    }


def to_csv(report: dict[str, Any]) -> str:
    """One line per figure: section, key, value (a spreadsheet sums and charts it)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "key", "value"])
    for key in ("since", "until", "made_at", "parcels", "weighings", "weight_failures", "pass_rate", "overrides",
                "interceptions", "backlog", "started", "shipped_within_24h", "ship_rate_24h"):
        w.writerow(["total", key, "" if report[key] is None else report[key]])
    for row in report["per_table"]:
        for key in ("parcels", "weighings", "weight_failures", "pass_rate"):
            w.writerow([f"table {row['table']}", key, "" if row[key] is None else row[key]])
    for row in report["per_packer"]:
        w.writerow([f"packer {row['name']}", "parcels", row["parcels"]])
    for name, minutes in report["stage_minutes"].items():
        w.writerow(["stage minutes", name, "" if minutes is None else minutes])
    for kind, n in report["overrides_by_kind"].items():
        w.writerow(["overrides", kind, n])
    rec = report.get("reconciliation")
    if rec is not None:
        w.writerow(["reconciliation", "differences", len(rec["differences"])])
        for d in rec["differences"]:
            w.writerow(["reconciliation", f"{d['station']} {d['side']}", d["id"]])
    return out.getvalue()


def to_text(report: dict[str, Any], site: str) -> tuple[str, str]:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.1f}%"

    lines = [f"{site}: {report['since']} – {report['until']}",
             f"parcels {report['parcels']}; pass rate {pct(report['pass_rate'])}; weight failures"
             f" {report['weight_failures']}; overrides {report['overrides']}; interceptions {report['interceptions']}",
             f"24-hour ship rate {pct(report['ship_rate_24h'])} ({report['shipped_within_24h']}/{report['started']});"
             f" backlog {report['backlog']}",
             "average minutes: " + ", ".join(f"{k} {'-' if v is None else v}" for k, v in report["stage_minutes"].items())]
    lines += [f"  {t['table']}: {t['parcels']} parcels, pass rate {pct(t['pass_rate'])}" for t in report["per_table"]]
    lines += [f"  {p['name']}: {p['parcels']} parcels" for p in report["per_packer"]]
    rec = report.get("reconciliation")
    if rec is None:
        lines.append("reconciliation with the WMS: not run")
    else:
        lines.append(f"reconciliation with the WMS: {len(rec['differences'])} difference(s)")
        lines += [f"  {d['station']} {d['id']}: {d['side']}" for d in rec["differences"][:50]]
    return f"packgate report {report['since'][:10]}", "\n".join(lines)


def parse_at(text: str) -> time | None:
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(hour, minute)
    except ValueError:
        return None


@dataclass
class Schedule:
    """The daily send: at ``daily_at`` (hub-local) reconcile yesterday with the WMS, then raise yesterday's report
    once (a ``report`` row of ``hub_alerts``, keyed by the day) for the dispatcher to send."""
    daily_at: time
    clock: Clock
    site: str
    retry_s: float = 300.0
    _tried: float = -1e18

    def due_day(self, now: datetime) -> date | None:
        today_at = datetime.combine(now.date(), self.daily_at, tzinfo=now.tzinfo)
        return now.date() - timedelta(days=1) if now >= today_at else None

    def tick(self, hub: Any) -> dict[str, Any]:
        now = self.clock.now()
        day = self.due_day(now)
        if day is None:
            return {}
        with hub.db.read() as conn:
            if conn.value("SELECT 1 FROM hub_alerts WHERE rule = ? AND subject = ?",
                          (f"{REPORT}.daily", day.isoformat())) is not None:
                return {}
            born = conn.value("SELECT applied_at FROM hub_migrations WHERE version = 1")
            kept = reconciliation.kept(conn, day)
        scheduled = datetime.combine(now.date(), self.daily_at, tzinfo=now.tzinfo)
        done = kept is not None and parse_iso(kept["ran_at"]) >= scheduled  # one run before it may have missed some
        if born is not None and parse_iso(str(born)).astimezone(now.tzinfo).date() > day:
            return {}  # the hub did not run that day: nothing to report
        out: dict[str, Any] = {}
        if not done and hub.client is not None:
            if self.clock.monotonic() - self._tried >= self.retry_s:
                self._tried = self.clock.monotonic()
                try:
                    out["reconciliation"] = hub.reconcile(day)
                    done = True
                except Exception as exc:  # noqa: BLE001 - the WMS unreachable: retried, then reported as not run
                    out["reconciliation_error"] = f"{type(exc).__name__}: {exc}"
            if not done and now - scheduled < WAIT_FOR_WMS:
                return out  # the report waits half an hour for the WMS, then goes without the reconciliation
        since, until = reconciliation.day_window(day, now.tzinfo)

        def raise_report(conn: Conn) -> bool:
            report = build(conn, since, until, now, hub.config.station_name)
            title, body = to_text(report, self.site)
            return raise_alert(conn, Finding(f"{REPORT}.daily", REPORT, day.isoformat(), title, body,
                                             {"since": report["since"], "until": report["until"]}), now)

        out["report"] = hub.db.run(raise_report)
        return out
