"""Read-only views of a station: the kiosk state, health, metrics, the supervisor page and its lists.

The kiosk state is copied under the station lock (it is what the verdict just shown left behind); every
read of the database runs on a connection leased from a pool, in one read transaction (WAL lets readers run
beside the writer), so a supervisor page or a PDA list never holds up a scan. Every list is a page:
a limit, a cursor (keyset, opaque) and filters; counts are served on their own (``counts``). In a site the
escalations are the site's (the hub's, through ``site_escalations``); while the hub cannot be reached the page
shows the station's own and says so (``escalations_from``).
"""
from __future__ import annotations

import base64
import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping

from packgate.device.clock import isoformat, parse_iso
from packgate.station import interception, returns, store
from packgate.station.core import device_states, texts
from packgate.station.core import packing as pk
from packgate.station.core.catalog import LOCAL_STATUSES
from packgate.station.core.models import Employee, Order, Role
from packgate.station.core.privacy import mask_record
from packgate.station.core.tolerance import weight_range
from packgate.station.errors import PageParameterError, ReferenceDataError
from packgate.station.parts import Parts
from packgate.sync.common.db import connect_reader, write_tx
from packgate.sync.common.pool import Pool
from packgate.sync.common.untilchanged import UntilChanged

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
ORDERS_FRESH_S = 0.5  # how old the PDAs' order list may be when another terminal changed it
READERS_KEPT = 16
LISTS = ("milestones", "expiring_lots", "audit", "rejected_input", "employees", "orders_to_pick")


@dataclass(frozen=True)
class PageQuery:
    """One page of a list: how many, after which cursor, and the filters (station, stage, age)."""

    limit: int = DEFAULT_LIMIT
    cursor: list | None = None
    station: str | None = None
    stages: tuple[str, ...] = ()
    age_min: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> "PageQuery":
        """From query parameters; a bad one raises ``PageParameterError`` naming it."""
        limit = _whole(args.get("limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)
        age = _whole(args.get("age_min"), "age_min", 0, 10**7, None)
        cursor = None
        if args.get("cursor"):
            try:
                cursor = json.loads(base64.urlsafe_b64decode(args["cursor"].encode("ascii")))
            except (ValueError, UnicodeError) as exc:
                raise PageParameterError("bad_cursor", value=args["cursor"][:40]) from exc
            if not isinstance(cursor, list) or not all(isinstance(c, (str, int)) for c in cursor):
                raise PageParameterError("bad_cursor", value=args["cursor"][:40])
        stages = tuple(x.strip() for x in (args.get("stage") or "").split(",") if x.strip())
        return cls(limit or DEFAULT_LIMIT, cursor, (args.get("station") or "").strip() or None, stages, age)


def _whole(text: str | None, name: str, low: int, high: int, default: int | None) -> int | None:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise PageParameterError("bad_page_number", name=name, low=low, high=high, value=str(text)[:20])
    return value


def _cursor(*keys: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(keys)).encode()).decode("ascii")


class StationViews:
    def __init__(self, parts: Parts, info: Callable[[], dict],
                 site_escalations: Callable[[], list[dict] | None] = lambda: None,
                 interception: Callable[[pk.PackSession], dict | None] | None = None,
                 review: Callable[[pk.PackSession], dict | None] | None = None,
                 site_conflicts: Callable[[], list[dict] | None] = lambda: None):
        self.parts = parts
        self.review = review  # the review the order open at the kiosk waits on (station.review)
        self.info = info
        self.site_escalations = site_escalations
        self.site_conflicts = site_conflicts
        self.interception = interception  # the WMS's word on the order open at the kiosk, when it stops or changes it
        self._path = str(parts.conn.execute("PRAGMA database_list").fetchone()[2] or "")
        self._readers: Pool[sqlite3.Connection] = Pool(lambda: connect_reader(self._path), lambda c: c.close(),
                                                       keep=READERS_KEPT)
        self._reading = threading.local()  # the connection this thread is reading on, for nested reads
        self._kept = UntilChanged(self._path, monotonic=parts.clock.monotonic) if self._path else None

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read connection from the pool, inside one read transaction (a consistent snapshot); an
        in-memory station has only its own connection, read under the station lock."""
        if not self._path:
            with self.parts.lock:
                yield self.parts.conn
            return
        outer = getattr(self._reading, "conn", None)
        if outer is not None:  # a nested view read shares the outer snapshot
            yield outer
            return
        with self._readers.lease() as conn:
            self._reading.conn = conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                self._reading.conn = None
                conn.execute("COMMIT")

    def close(self) -> None:
        if self._kept is not None:
            self._kept.close()
        self._readers.close_all()

    def _until_changed(self, key: tuple, build: Callable[[], Any], fresh_s: float = 0.0) -> Any:
        return build() if self._kept is None else self._kept.get(key, build, fresh_s)

    def renew(self) -> None:
        """The commit just made (a PDA's own action) is in every list served from now on."""
        if self._kept is not None:
            self._kept.renew()

    def state(self) -> dict:
        """What the kiosk shows. The live state is copied under the station lock; the database and reference
        reads (sync status, priority orders, names and weights) run after it is released."""
        p = self.parts
        with p.lock:
            live = p.live
            s = live.pack  # a PackSession is a value: the next change replaces it
            shown = {"verdict": live.verdict, "scale": live.scale.view(), "devices": dict(live.devices),
                     "label": live.label, "last_scan": live.last_scan, "override": live.override_reason,
                     "verdict_age_s": None if live.verdict_at is None else round(p.clock.monotonic() - live.verdict_at, 1),
                     "interception": self.interception(s) if self.interception else None,
                     "review": self.review(s) if self.review else None, "site_clock": live.site_clock}
        lines = []
        if s.order:
            for sku_code, qty in s.order.quantities().items():
                sku = p.catalog.sku(sku_code)
                lines.append({"sku": sku_code, "name": sku.name if sku else sku_code,
                              "gtin": sku.gtin if sku else None, "qty": qty, "scanned": s.packed_qty(sku_code),
                              "special": bool(sku and sku.special)})
        packaging = p.catalog.packaging(s.packaging) if s.packaging else None
        expected = None
        if s.order and s.state in pk.ORDER_STATES and (
                s.state in (pk.State.READY_TO_WEIGH, pk.State.BLOCKED, pk.State.WEIGHED_OK) or (s.complete and packaging)):
            weights = weight_range(pk.carton_items(s, p.catalog), packaging, p.tolerance)
            expected = weights.as_dict() if weights else None
        fifo = None
        if s.pending and s.pending.code in ("fifo_older_lot", "lot_unknown"):
            fifo = {"lot": s.pending.unit.lot, "older_lot": s.pending.older_lot, "older_bin": s.pending.older_bin}
        return {
            "station": self.info(),
            "operator": s.operator.as_dict() if s.operator else None,
            "session": {"state": str(s.state), "order": s.order.as_dict() if s.order else None, "lines": lines,
                        "packaging": packaging.as_dict() if packaging else None, "expected": expected,
                        "fifo": fifo, "weight": s.weight.as_dict() if s.weight else None,
                        "override_requested": shown["override"], "abandon_asked": s.abandon_asked,
                        "carton": s.carton_no, "next": pk.NEXT_IN_STATE[s.state], "done": self._finished(s),
                        "interception": shown["interception"], "review_pending": shown["review"]},
            "verdict": shown["verdict"],
            "verdict_age_s": shown["verdict_age_s"],
            "verdict_clear_s": float(p.cfg["session.verdict_clear_s"]),
            "label_mode": p.cfg["label.mode"],
            "scale": shown["scale"],
            "sync": self.sync_status(),
            "devices": shown["devices"],
            "label": shown["label"],
            "priority_orders": self.priority_orders(),
            "last_scan": shown["last_scan"],
            "site_clock": shown["site_clock"],
        }

    def _finished(self, s: pk.PackSession) -> dict | None:
        """The order the table just finished (packed, shipped, stopped, cancelled) in one line's worth of data: the
        kiosk clears its panels for the next order and says this instead."""
        if s.order is None or s.state not in (pk.State.PACKED, pk.State.CANCELLED):
            return None
        grams = sum((Decimal(str(c.weight["measured_g"])) for c in s.cartons
                     if c.weight and c.weight.get("measured_g") not in (None, "-")), Decimal(0))
        if s.state is pk.State.PACKED:
            outcome = "shipped" if self.parts.cfg["label.mode"] == "weigh_and_ship" else "packed"
        else:
            with self.reading() as conn:
                row = store.order_row(conn, s.order.order_id) or {}
            outcome = "cancelled" if row.get("status") == "cancelled" else "stopped"
        return {"order_id": s.order.order_id, "outcome": outcome, "units": len(s.units), "cartons": len(s.cartons),
                "grams": str(grams.quantize(Decimal("0.1"))) if s.cartons else None}

    def priority_orders(self) -> list[dict]:
        """Orders released to any packer by an escalation: picked, still not packed, highest priority first
        (shared until the next commit: read-only)."""
        return self._until_changed(("priority_orders",), self._priority_orders)

    def _priority_orders(self) -> list[dict]:
        p = self.parts
        out = []
        with self.reading() as conn:
            rows = store.priority_orders(conn)
        for row in rows:
            order = p.catalog.order(row["order_id"])
            out.append({"order_id": row["order_id"], "tote": order.tote if order else None,
                        "picked_at": row["picked_at"], "priority": row["priority"]})
        return out

    def sync_status(self) -> dict:
        try:
            with self.reading() as conn:
                status = self.parts.outbox.status(conn)
        except Exception as exc:  # noqa: BLE001 - a status read never breaks the page
            return {"error": str(exc)}
        reference = status.get("reference") or {}
        status["online"] = not status.get("consecutive_failures") and not reference.get("last_error")
        return status

    def health(self) -> dict:
        p = self.parts
        sync = self.sync_status()
        with self.reading() as conn:
            open_escalations = len(store.escalations(conn))
        reference = p.catalog.cache.status()  # counts rejected and ambiguous rows: off the station lock
        with p.lock:
            live = p.live
            problems = [f"station database: {sync['error']}"] if "error" in sync else []
            devices = {name: {**dev, "says": texts.text("en", f"device:{dev['state']}", dev["state"]),
                              **({"fix": device_states.IT_FIX[dev["state"]]} if dev["state"] in device_states.IT_FIX else {})}
                       for name, dev in sorted(live.devices.items())}
            problems += [f"{name} {dev['says']}: {dev.get('detail') or ''}".rstrip(": ")
                         for name, dev in devices.items() if device_states.problem(dev["state"])]
            problems += [problem for problem in (live.scale.problem(),) if problem]
            if live.storage_fault:
                problems.append(f"station database: {live.storage_fault}")
            problems += [text for _, text in sorted(live.problems.items())]
            warnings = [f"{name}: {notice['message']}" for name, dev in devices.items()
                        for notice in dev.get("notices", ())]
            load = p.load.status()
            if load["shedding"]:
                warnings.append(f"overloaded ({load['pct']} % > {load['threshold_pct']:g} %): the packing video and"
                                " reports step aside; the scan path comes first")
            scale = live.scale.view()
            return {"ok": not problems, "problems": problems, "warnings": warnings, "station": p.id,
                    "at": isoformat(p.clock.now()),
                    "devices": devices, "scale": {k: scale.get(k) for k in ("connected", "responding", "status", "stable")},
                    "outbox": sync, "reference": reference, "session": str(live.pack.state),
                    "open_escalations": open_escalations, "verdicts": dict(live.counters), "load": load}

    def metrics(self) -> str:
        from packgate.sync.metrics import render_prometheus

        p = self.parts
        sync = self.sync_status()
        with self.reading() as conn:
            open_escalations = len(store.escalations(conn))
        with p.lock:
            lines = [render_prometheus(sync, {"station": p.id}).rstrip("\n"),
                     "# HELP packgate_verdicts_total Verdicts shown, by status.",
                     "# TYPE packgate_verdicts_total counter"]
            for status, count in sorted(p.live.counters.items()):
                lines.append(f'packgate_verdicts_total{{station="{p.id}",status="{status}"}} {count}')
            lines += ["# HELP packgate_open_escalations Escalations fired and not acknowledged.",
                      "# TYPE packgate_open_escalations gauge",
                      f'packgate_open_escalations{{station="{p.id}"}} {open_escalations}']
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

    def supervisor_overview(self, viewer: str | None = None, limit: int = DEFAULT_LIMIT) -> dict:
        """The supervisor page: the station, open escalations, and the first page of each list (each with
        the cursor of its next page); counts are ``counts()``."""
        p = self.parts
        with p.lock:
            live = p.live
            station = {"id": p.id, "operator": live.pack.operator.name if live.pack.operator else None,
                       "order": live.pack.order.order_id if live.pack.order else None,
                       "state": str(live.pack.state),
                       "scale": (live.devices.get("scale") or {}).get("state", "not_configured"),
                       "devices": {name: dev.get("state") for name, dev in live.devices.items()}}
        first = PageQuery(limit=limit)
        escalations, source = self._escalations()
        site_conflicts = self.site_conflicts() or []
        with self.reading() as conn:
            who = p.catalog.employee_by_id(viewer) if viewer else None
            station["depth"] = self.sync_status().get("depth")
            pages = {kind: self.page(kind, first, viewer=viewer) for kind in LISTS if kind != "orders_to_pick"}
            blocked = self.page("milestones", PageQuery(limit=limit, stages=("blocked",)))
            return {
                "viewer": mask_record(who.as_dict(), who.role) if who else None,
                "stations": [station],
                "escalations": store.escalations(conn) if escalations is None else escalations,
                "escalations_from": source,
                "blocked": [{"order_id": r["order_id"], "at": r["updated_at"], "reason": r["blocked_reason"]}
                            for r in blocked["items"]],
                **{kind: page["items"] for kind, page in pages.items()},
                "next_cursor": {kind: page["next_cursor"] for kind, page in pages.items()},
                "reference_problems": p.catalog.cache.problems(),
                "intercepted": interception.intercepted(conn, limit),
                "conflicts": self._conflicts_here(interception.conflicts(conn, limit), site_conflicts),
                "returns": returns.recent(conn, limit),  # returns at this table (station/returns.py)
            }

    def counts(self) -> dict:
        """How many of each list there are (orders per stage, lots expiring, audit entries, …)."""
        p = self.parts
        until = (p.clock.now().date() + timedelta(days=p.cfg["lots.expiry_warning_days"])).isoformat()
        escalations, _ = self._escalations()
        with self.reading() as conn:
            return {"orders": store.order_counts(conn), "orders_to_pick": store.orders_to_pick_count(conn),
                    "expiring_lots": store.expiring_lots_count(conn, until),
                    "audit": store.table_count(conn, "audit"),
                    "rejected_input": store.table_count(conn, "rejected_input"),
                    "employees": store.table_count(conn, "ref_employees"),
                    "open_escalations": len(store.escalations(conn) if escalations is None else escalations)}

    @staticmethod
    def _conflicts_here(own: list[dict], site: list[dict]) -> list[dict]:
        """This station's conflicts (its confirmations refused for good) and the site's (the hub took them, then the
        WMS refused them: any table's), each once, oldest first."""
        mine = {c["id"] for c in own}
        return own + [c for c in site if c.get("confirmation") not in mine]

    def _escalations(self) -> tuple[list[dict] | None, str]:
        """The site's open escalations and where they come from: ``site``, ``station`` (no hub) or
        ``site_unreachable`` (the station's own are shown)."""
        if self.parts.cfg["upstream.kind"] != "hub":
            return None, "station"
        listed = self.site_escalations()
        return listed, "site" if listed is not None else "site_unreachable"

    def page(self, kind: str, query: PageQuery, viewer: str | None = None) -> dict:
        """One page of the list ``kind`` (one of ``LISTS``): ``{"items", "next_cursor", "limit"}``. The PDAs'
        order list is shared (read-only) until a commit, or for up to ``ORDERS_FRESH_S`` whatever is committed (the
        packer commits every few milliseconds; fifty PDAs rebuilding it after each cost the kiosk's scans their
        p99); a PDA's own action renews it. The others hold times, built per call."""
        if kind == "orders_to_pick":
            key = (kind, query.limit, tuple(query.cursor) if query.cursor else None)
            return self._until_changed(key, lambda: self._page(kind, query, viewer), ORDERS_FRESH_S)
        return self._page(kind, query, viewer)

    def _page(self, kind: str, query: PageQuery, viewer: str | None) -> dict:
        answer = self._read_page(kind, query, viewer)
        if kind == "employees" and answer["items"] and self.is_supervisor(viewer):
            self._audit_read(str(viewer), [item["employee_id"] for item in answer["items"]])
        return answer

    def _audit_read(self, who: str, employees: list[str]) -> None:
        """A supervisor saw these employees' phone numbers unmasked: one ``personal_read`` audit row."""
        p = self.parts
        with p.lock, write_tx(p.conn) as conn:
            store.add_audit(conn, isoformat(p.clock.now()), who, "personal_read", "employees", None,
                            {"employees": employees[:200]}, "employee list", None)

    def _read_page(self, kind: str, query: PageQuery, viewer: str | None) -> dict:
        p = self.parts
        now = p.clock.now()
        cursor, n = query.cursor, query.limit
        last: tuple = ()
        items: list[dict]
        rows: list[dict] = []
        with self.reading() as conn:
            if kind == "milestones":
                before = isoformat(now - timedelta(minutes=query.age_min)) if query.age_min else None
                rows = store.milestones_page(conn, n, _keys(cursor, str, str), query.station, query.stages, before)
                items = [_milestone(r, now, conn) for r in rows]
                last = (rows[-1]["updated_at"], rows[-1]["order_id"]) if rows else ()
            elif kind == "expiring_lots":
                days = query.age_min // 1440 if query.age_min is not None else p.cfg["lots.expiry_warning_days"]
                until = (now.date() + timedelta(days=days)).isoformat()
                lots = store.expiring_lots_page(conn, until, n, _keys(cursor, str, str, str))
                items = [{"sku": r["sku"], "lot": r["lot"], "bin": r.get("bin"), "expires": r["expires"],
                          "days_left": (date.fromisoformat(r["expires"]) - now.date()).days} for r in lots]
                last = (lots[-1]["expires"], lots[-1]["sku"], lots[-1]["lot"]) if lots else ()
            elif kind in ("audit", "rejected_input"):
                before_id = _keys(cursor, int)
                fetch = store.audit_page if kind == "audit" else store.rejected_page
                items = fetch(conn, n, before_id[0] if before_id else None, query.station)
                last = (items[-1]["id"],) if items else ()
            elif kind == "employees":
                who = p.catalog.employee_by_id(viewer) if viewer else None
                after = _keys(cursor, str)
                rows = store.employees_page(conn, n, after[0] if after else None,
                                            query.stages[0] if query.stages else None)
                items = [_employee_for(e, who) for e in (_built(Employee, r) for r in rows) if e is not None]
                last = (rows[-1]["employee_id"],) if rows else ()
            elif kind == "orders_to_pick":
                rows = store.orders_to_pick_page(conn, n, _keys(cursor, int, str))
                items = [i for i in (_to_pick(r) for r in rows) if i is not None]
                last = (int(rows[-1].get("priority") or 0), rows[-1]["order_id"]) if rows else ()
            else:
                raise PageParameterError("bad_list", value=kind)
        full = len(items) >= n if kind != "orders_to_pick" else len(rows) >= n
        return {"items": items, "next_cursor": _cursor(*last) if last and full else None, "limit": n}

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


def _keys(cursor: list | None, *kinds: type) -> Any:
    """The cursor's keys, checked against the list's key types."""
    if cursor is None:
        return None
    if len(cursor) != len(kinds) or not all(isinstance(c, k) for c, k in zip(cursor, kinds, strict=True)):
        raise PageParameterError("bad_cursor", value=_cursor(*cursor)[:40])
    return tuple(cursor)


def _built(kind: Any, row: dict) -> Any:
    """A model from a reference row; a malformed row is left out of the list (the catalog logs it)."""
    try:
        return kind.from_dict(row)
    except ReferenceDataError:
        return None


def _milestone(row: dict, now: Any, conn: sqlite3.Connection) -> dict:
    waiting = None
    last = max((row[m] for m in store.MILESTONES if row.get(m)), default=row.get("updated_at"))
    if last and row["status"] not in ("packed", "cancelled"):
        waited, stage = now - parse_iso(last), texts.Word(f"order_status:{row['status']}")
        waiting = {lang: texts.fill(texts.text(lang, "page:minutes_in"), {"waited": waited, "stage": stage}, lang)
                   for lang in texts.LANGUAGES}
    synced = store.synced_at(conn, row["order_id"]) if row["status"] == "packed" else None
    return {**row, "waiting": waiting, "durations_s": _durations(row), "synced_at": synced}


def _to_pick(row: dict) -> dict | None:
    local_status, local_priority = row.pop("local_status", None), row.pop("local_priority", None)
    order = _built(Order, row)
    if order is None:
        return None
    if local_status in LOCAL_STATUSES:
        order = replace(order, status=local_status)
    order = replace(order, priority=max(order.priority, local_priority or 0))
    return {"order_id": order.order_id, "tote": order.tote, "lines": len(order.lines), "units": order.units,
            "priority": order.priority, "status": order.status}


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
