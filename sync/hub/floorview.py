"""The live dashboard's figures read from the hub (the JSON of ``/api/dashboard/*``), in the reader's language:
the open orders of the floor from the WMS's release to the dock (filtered, paged, counted), the backlog, today's
totals, stage times, parcels per hour, pass rates, the stations and an order's timeline. The arithmetic is
``floor`` (pure); this module reads the database once per answer and names things (tables, people, states).

Times go out as ISO 8601 with their offset (the page shows them in the reader's local time) and durations both in
seconds and in words ("12 min", "1 h 05 min").
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.hub import dashtext, floor, parcels, store
from packgate.sync.hub.engine import Conn
from packgate.sync.hub.hub import Hub

HOURS = 8  # the parcels-per-hour charts
DETAIL = ("result", "measured_g", "expected_g", "diff_g", "sku", "lot", "qty", "tote", "waybill", "batch_id", "reason")
OPEN_WMS = ("open", "released", "new", "held")  # WMS statuses of an order not started, not cancelled, not shipped


@dataclass(frozen=True)
class Filters:
    stage: str = ""
    table: str = ""
    carrier: str = ""
    min_age_min: int = 0

    def keep(self, order: dict[str, Any], *, with_stage: bool = True) -> bool:
        return ((not with_stage or not self.stage or order["stage"] == self.stage)
                and (not self.table or order["station"] == self.table)
                and (not self.carrier or order["carrier"] == self.carrier)
                and order["age_s"] >= self.min_age_min * 60)


def released_at(wms: dict[str, Any] | None) -> str | None:
    """When the WMS released the order: its ``released_at``, else ``created_at``, else the row's ``updated_at``."""
    if not wms:
        return None
    for name in ("released_at", "created_at", "updated_at"):
        value = wms.get(name)
        if isinstance(value, str):
            try:
                parse_iso(value)
            except ValueError:
                continue
            return value
    return None


class FloorView:
    """One answer's view of the floor (``site`` read once, at ``site.clock.now()``), in ``lang``."""

    def __init__(self, site: Hub, lang: str):
        self.site, self.lang = site, lang
        self.now = site.clock.now()
        self.words = dashtext.words(lang)
        self.units = floor.Units(self.words["unit_h"], self.words["unit_min"], self.words["unit_s"])
        self.sla: dict[str, list[float]] = site.config["dashboard.sla"]
        self.shift_start = floor.shift_start(self.now.astimezone(), site.config["dashboard.shifts"])
        self.midnight = datetime.combine(self.now.astimezone().date(), datetime.min.time(), self.now.astimezone().tzinfo)
        self._open: list[dict[str, Any]] | None = None
        with site.db.read() as conn:
            self._read(conn)

    def _read(self, conn: Conn) -> None:
        self.wms = _wms_orders(self.site, conn)
        self.hub_orders = store.open_orders(conn)
        self.names = {e["employee_id"]: e.get("name") or e["employee_id"] for e in store.ref_all(conn, "employees")}
        since = min(self.shift_start, self.now - timedelta(hours=HOURS), self.midnight)
        self.recent = store.orders_updated_since(conn, min(self.shift_start, self.now - timedelta(hours=1)))
        self.parcels = store.parcels_since(conn, since)
        self.weighings = store.weighings_since(conn, self.shift_start)
        self.intercepted_today = store.intercepted_since(conn, self.midnight)
        self.station_rows = store.stations(conn)
        self.head = store.feed_head(conn)

    # ---- names ------------------------------------------------------------------------------------------
    def table(self, station: str | None) -> str:
        return self.site.config.station_name(station) if station else ""

    def person(self, employee: str | None) -> str:
        return str(self.names.get(employee or "", employee or ""))

    def duration(self, seconds: float | None) -> str:
        return "" if seconds is None else floor.human_duration(seconds, self.units)

    def stage_name(self, stage: str) -> str:
        return str(self.words["stage_names"].get(stage, stage))

    # ---- open orders ------------------------------------------------------------------------------------
    def open_orders(self) -> list[dict[str, Any]]:
        """Every open order, grouped by stage in floor order, the longest waiting first within a stage."""
        if self._open is None:
            self._open = self._open_orders()
        return self._open

    def _open_orders(self) -> list[dict[str, Any]]:
        rows = []
        seen = set()
        for order in self.hub_orders:
            seen.add(order["order_id"])
            wms = self.wms.get(order["order_id"])
            if order["stage"] == "open" and (wms or {}).get("status") == "cancelled":
                continue
            stage = floor.dashboard_stage(order["stage"])
            since = order["stage_since"]
            if stage == "backlog":
                since = released_at(wms) or since
            if stage == "packed":
                since = order["milestones"].get("packed") or since
            station = order["packed_by"] if stage == "packed" else order["station"]
            rows.append(self._row(order["order_id"], stage, since, station, order["operator"], wms,
                                  order.get("wms_status")))
        for order_id, wms in self.wms.items():
            if order_id in seen or str(wms.get("status") or "open") not in OPEN_WMS:
                continue
            rows.append(self._row(order_id, "backlog", released_at(wms) or isoformat(self.now), None, None, wms,
                                  wms.get("status") if wms.get("status") == "held" else None))
        rows.sort(key=lambda r: (floor.OPEN_STAGES.index(r["stage"]), -r["age_s"], r["order_id"]))
        return rows

    def _row(self, order_id: str, stage: str, since: str, station: str | None, operator: str | None,
             wms: dict[str, Any] | None, wms_status: str | None) -> dict[str, Any]:
        age = max(0.0, (self.now - parse_iso(since)).total_seconds())
        carrier = (wms or {}).get("carrier")
        return {"order_id": order_id, "stage": stage, "stage_name": self.stage_name(stage), "since": since,
                "age_s": round(age, 1), "age": self.duration(age), "station": station or "",
                "table": self.table(station), "operator": operator or "", "person": self.person(operator),
                "carrier": carrier if isinstance(carrier, str) else "", "sla": floor.sla_colour(stage, age, self.sla),
                "wms_status": wms_status or ""}

    def orders_page(self, filters: Filters, page: int, per_page: int) -> dict[str, Any]:
        kept = [o for o in self.open_orders() if filters.keep(o)]
        pages = max(1, -(-len(kept) // per_page))
        page = min(page, pages)
        return {"orders": kept[(page - 1) * per_page: page * per_page], "page": page, "pages": pages,
                "per_page": per_page, "total": len(kept), "now": isoformat(self.now)}

    def counts(self, filters: Filters) -> dict[str, Any]:
        """Open orders per stage and SLA colour (every filter but the stage applies); choices for the filters."""
        orders = self.open_orders()
        by_stage = {s: {"stage": s, "name": self.stage_name(s), "total": 0, "green": 0, "amber": 0, "red": 0,
                        "oldest_s": None, "oldest": ""} for s in floor.OPEN_STAGES}
        for order in orders:
            if not filters.keep(order, with_stage=False):
                continue
            row = by_stage[order["stage"]]
            row["total"] += 1
            row[order["sla"]] += 1
            if row["oldest_s"] is None or order["age_s"] > row["oldest_s"]:
                row["oldest_s"], row["oldest"] = order["age_s"], order["age"]
        tables = sorted({o["station"] for o in orders if o["station"]} | set(self.site.config["stations"]))
        return {"total": sum(r["total"] for r in by_stage.values()), "stages": list(by_stage.values()),
                "tables": [{"station": s, "name": self.table(s)} for s in tables],
                "carriers": sorted({o["carrier"] for o in orders if o["carrier"]}), "now": isoformat(self.now)}

    # ---- the summary --------------------------------------------------------------------------------------
    def backlog(self) -> dict[str, Any]:
        waiting = [o for o in self.open_orders() if o["stage"] == "backlog"]
        oldest = max(waiting, key=lambda o: o["age_s"], default=None)
        return {"count": len(waiting), "oldest_order": oldest["order_id"] if oldest else None,
                "oldest_since": oldest["since"] if oldest else None, "oldest_s": oldest["age_s"] if oldest else None,
                "oldest": oldest["age"] if oldest else "",
                "sla": oldest["sla"] if oldest else "green"}

    def today(self) -> dict[str, int]:
        packed = shipped = 0
        for parcel in self.parcels:
            if _at_or_after(parcel["packed_at"], self.midnight):
                packed += 1
            if _at_or_after(parcel["shipped_at"], self.midnight):
                shipped += 1
        return {"packed": packed, "shipped": shipped, "intercepted": self.intercepted_today}

    def stage_times(self) -> list[dict[str, Any]]:
        orders = [(released_at(self.wms.get(o["order_id"])), o["milestones"]) for o in self.recent]
        hour = floor.stage_durations(orders, self.now - timedelta(hours=1), self.now)
        shift = floor.stage_durations(orders, self.shift_start, self.now)
        out = []
        for stage in floor.OPEN_STAGES:
            row: dict[str, Any] = {"stage": stage, "name": self.stage_name(stage)}
            for label, values in (("hour", hour[stage]), ("shift", shift[stage])):
                figures = floor.summary(values)
                row[label] = {**figures, "avg": self.duration(figures["avg_s"]), "p90": self.duration(figures["p90_s"])}
            out.append(row)
        return out

    def throughput(self) -> dict[str, Any]:
        buckets = floor.hour_buckets(self.now.astimezone(), HOURS)
        packs = [(p, parse_iso(p["packed_at"])) for p in self.parcels if _parses(p["packed_at"])]
        per_table = floor.per_hour(((self.table(p["station"]), at) for p, at in packs), buckets)
        per_packer = floor.per_hour(((self.person(p["operator"]) or self.words["unknown"], at) for p, at in packs),
                                    buckets)
        in_shift = [(p, at) for p, at in packs if at >= self.shift_start]

        def totals(names: Iterable[str]) -> list[dict[str, Any]]:
            counted: dict[str, int] = {}
            for name in names:
                counted[name] = counted.get(name, 0) + 1
            hours = max(1 / 60, (self.now - self.shift_start).total_seconds() / 3600)
            return [{"name": n, "parcels": c, "per_hour": round(c / hours, 1)} for n, c in sorted(counted.items())]

        return {"hours": [isoformat(b) for b in buckets], "per_table": per_table, "per_packer": per_packer,
                "tables_shift": totals(self.table(p["station"]) for p, _ in in_shift),
                "packers_shift": totals(self.person(p["operator"]) or self.words["unknown"] for p, _ in in_shift)}

    def pass_rates(self) -> list[dict[str, Any]]:
        rates = floor.pass_rate(self.weighings)
        return [{"station": s, "table": self.table(s), **row} for s, row in sorted(rates.items())]

    def stations(self) -> list[dict[str, Any]]:
        offline_after = self.site.config["claims.offline_after_s"]
        warn = self.site.config["clock.warn_after_s"]
        out = []
        for row in self.station_rows:
            offset = row.get("clock_offset_s")
            out.append({
                "station": row["station"], "table": self.table(row["station"]),
                "online": (self.now - parse_iso(row["last_seen_at"])).total_seconds() <= offline_after,
                "last_seen": row["last_seen_at"], "state": row["state"] or "",
                "state_name": str(self.words["state_names"].get(row["state"] or "", row["state"] or "")),
                "operator": row["operator"] or "", "person": self.person(row["operator"]),
                "order_id": row["order_id"] or "", "outbox_depth": row["outbox_depth"],
                "devices": [{"device": d, "name": str(self.words["device_names"].get(d, d)), "state": st,
                             "state_name": str(self.words["device_states"].get(st, st))} for d, st in row["devices"].items()],
                "version": row.get("software_version") or "", "clock_offset_s": offset,
                "clock_warning": offset is not None and abs(offset) > warn})
        return out

    def summary(self) -> dict[str, Any]:
        return {"now": isoformat(self.now), "head": self.head, "shift_start": isoformat(self.shift_start),
                "backlog": self.backlog(), "today": self.today(), "stage_times": self.stage_times(),
                "throughput": self.throughput(), "pass_rates": self.pass_rates(), "stations": self.stations()}

    def _detail(self, payload: dict[str, Any]) -> str:
        """A confirmation's facts in words: ``result pass, measured (g) 1204``."""
        shown = []
        for key in DETAIL:
            value = payload.get(key)
            if value in (None, "") or isinstance(value, (dict, list)):
                continue
            value = self.words.get(f"v_{value}", value) if isinstance(value, str) else value
            shown.append(f"{self.words[f'f_{key}']} {value}")
        return ", ".join(shown)

    # ---- one order ----------------------------------------------------------------------------------------
    def timeline(self, order_id: str) -> dict[str, Any] | None:
        with self.site.db.read() as conn:
            order = store.get_order(conn, order_id)
            confirmations = store.order_confirmations(conn, order_id) if order else []
            parcel = parcels.get(conn, order_id) if order else None
        wms = self.wms.get(order_id)
        if order is None and wms is None:
            return None
        milestones = order["milestones"] if order else {}
        stage = order["stage"] if order else "open"
        bars = floor.timeline(released_at(wms), milestones, self.now, stage)
        where: dict[str, dict[str, str]] = {}
        for conf in confirmations:
            done = _stage_of(conf["action"], conf.get("payload") or {})
            if done and done not in where:
                where[done] = {"station": conf.get("location") or "",
                               "operator": conf.get("operator") or ""}
        for bar in bars:
            who = where.get(bar["stage"], {})
            bar.update(name=self.stage_name(bar["stage"]), start=isoformat(bar["start"]),
                       end=isoformat(bar["end"]) if bar["end"] else None, duration=self.duration(bar["seconds"]),
                       table=self.table(who.get("station")), person=self.person(who.get("operator")),
                       sla=floor.sla_colour(bar["stage"], bar["seconds"], self.sla))
        evidence = [{"at": c.get("at"), "action": c.get("action"),
                     "action_name": self.words.get(f"act_{c.get('action')}", c.get("action")),
                     "table": self.table(c.get("location")), "person": self.person(c.get("operator")),
                     "detail": self._detail(c.get("payload") or {})} for c in confirmations]
        return {"order_id": order_id, "stage": floor.dashboard_stage(stage), "stage_name":
                self.stage_name(floor.dashboard_stage(stage)), "carrier": (wms or {}).get("carrier") or "",
                "released_at": released_at(wms), "wms_status": (order or {}).get("wms_status") or "",
                "waybill": (parcel or {}).get("waybill") or "", "bars": bars, "evidence": evidence,
                "now": isoformat(self.now)}


_WMS: "weakref.WeakKeyDictionary[Hub, tuple[int, dict[str, dict[str, Any]]]]" = weakref.WeakKeyDictionary()


def _wms_orders(site: Hub, conn: Conn) -> dict[str, dict[str, Any]]:
    """The WMS's orders by id, read again only when the hub's reference data changed (its cursor moved): a site
    keeps every order it ever had, and every refresh of every open dashboard asks (shared, read-only)."""
    cursor = store.ref_cursor(conn)
    kept = _WMS.get(site)
    if kept is not None and kept[0] == cursor:
        return kept[1]
    orders = {str(o["order_id"]): o for o in store.ref_all(conn, "orders") if "order_id" in o}
    _WMS[site] = (cursor, orders)
    return orders


def _stage_of(action: str, payload: dict[str, Any]) -> str | None:
    """The timeline bar a confirmation starts: who picked, packed, weighed, shipped, and where."""
    return {"pick": "picking", "load": "picked", "tote_load": "picked", "open": "packing", "scan": "packing",
            "weigh": "weighed", "pack": "packed", "ship_load": "shipped"}.get(action)


def _parses(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_iso(value)
    except ValueError:
        return False
    return True


def _at_or_after(value: Any, moment: datetime) -> bool:
    return _parses(value) and parse_iso(value) >= moment
