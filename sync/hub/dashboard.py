"""The supervisors' live site dashboard at ``/`` (a 1920×1080 wall screen and a 412 px phone), English and Chinese:
the page (drawn by ``static/dashboard.js`` from the JSON below, charts by the vendored uPlot), its JSON
(``/api/dashboard`` the panels, ``/api/dashboard/summary`` the floor's figures, ``/api/dashboard/orders`` and
``/counts`` the open orders filtered and paged, ``/api/dashboard/orders/<id>`` an order's timeline), its event stream
(``/api/dashboard/stream``: the page reloads its JSON within a second of any change of the hub's feed) and its
forms (acknowledge an escalation, release a claim with a reason).

Invariants: without a supervisor's session the page is the sign-in form (``signin``) and the JSON a 401; every form
carries the session's CSRF token (403 otherwise); every change is made as the signed-in supervisor.
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import date, timedelta
from importlib import resources
from typing import Any, Callable, Iterator

from flask import Blueprint, Response, jsonify, redirect, request

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import floor, policies, returns, store
from packgate.sync.hub.floorview import Filters, FloorView
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.signin import signin_page
from packgate.sync.hub.web import checked_session, current_supervisor, event_stream, hub, int_arg, lang, page

bp = Blueprint("dashboard", __name__)
STREAM_TICK_S = 0.1
STREAM_PING_S = 5.0
STREAM_LIFE_S = 120.0
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css",
          "vendor/uPlot-1.6.32.iife.min.js": "text/javascript", "vendor/uPlot-1.6.32.min.css": "text/css",
          "vendor/uPlot-1.6.32.LICENSE.txt": "text/plain"}


@bp.get("/")
def dashboard() -> Response:
    session = current_supervisor()
    if session is None:
        return signin_page()
    with hub().db.read() as conn:
        name = store.employee_name(conn, session["employee_id"]) or session["employee_id"]
    panels = overview(hub(), lang())  # the policy panels (reviews, stock alerts, carrier rules) with their forms
    if panels["load"]["shedding"]:
        hub().load.shed("charts")  # a busy hub: the page's charts keep the figures last drawn (summary below)
    return page("dashboard.html", csrf=session["csrf"], who=name, stages=floor.OPEN_STAGES,
                page_size=hub().config["dashboard.page_size"],
                **{k: panels[k] for k in ("reviews", "stock_alerts", "carrier_rules", "load")})


@bp.post("/escalations/ack")
def ack() -> Any:
    session = checked_session()
    level_text = request.form.get("level", "")
    if not (level_text.isascii() and level_text.isdigit() and len(level_text) < 3):
        raise HubRequestError("level must be 1 or 2")
    hub().acknowledge(request.form.get("order_id", "")[:80], int(level_text), session["employee_id"], "dashboard")
    return redirect("/", 303)


@bp.post("/claims/release")
def release() -> Any:
    session = checked_session()
    hub().release(request.form.get("order_id", "")[:80], supervisor=session["employee_id"],
                  reason=request.form.get("reason", "")[:200])
    return redirect("/", 303)


@bp.post("/reviews/decide")
def decide_review() -> Any:
    """A supervisor signed in here (badge + PIN) approves or refuses an order a table opened under review."""
    session = checked_session()
    hub().decide_review(request.form.get("order_id", "")[:80], request.form.get("decision", "")[:16],
                        session["employee_id"], request.form.get("reason", "")[:200])
    return redirect("/", 303)


@bp.post("/carriers")
def set_carrier() -> Any:
    """A supervisor suspends a carrier for regions, caps it per day or names its backup (empty fields: lifted)."""
    session = checked_session()
    hub().set_carrier(session["employee_id"], {k: request.form.get(k, "")[:200] for k in
                                               ("carrier", "regions", "daily_cap", "backup", "reason")})
    return redirect("/", 303)


@bp.get("/api/dashboard")
def dashboard_json() -> Response:
    signed_in()
    return jsonify(overview(hub(), lang()))


def signed_in() -> dict[str, Any]:
    session = current_supervisor()
    if session is None:
        raise HubRequestError("sign in first", 401)
    return session


def _filters() -> Filters:
    stage = request.args.get("stage", "")
    if stage and stage not in floor.OPEN_STAGES:
        raise HubRequestError(f"stage must be one of {', '.join(floor.OPEN_STAGES)}")
    return Filters(stage=stage, table=request.args.get("table", "")[:40], carrier=request.args.get("carrier", "")[:40],
                   min_age_min=int_arg("min_age", 0, 0, 100000))


@bp.get("/api/dashboard/summary")
def summary_json() -> Response:
    signed_in()
    site = hub()
    figures = FloorView(site, lang()).summary()
    if site.load.shedding() and "throughput" in site.charts:  # busy: the charts keep the figures last drawn
        site.load.shed("charts")
        return jsonify({**figures, "throughput": site.charts["throughput"], "charts_paused": True,
                        "charts_at": site.charts["charts_at"]})
    site.charts.update(throughput=figures["throughput"], charts_at=figures["now"])
    return jsonify({**figures, "charts_paused": False, "charts_at": figures["now"]})


@bp.get("/api/dashboard/orders")
def orders_json() -> Response:
    signed_in()
    filters = _filters()
    page_size = hub().config["dashboard.page_size"]
    return jsonify(FloorView(hub(), lang()).orders_page(filters, int_arg("page", 1, 1, 10**6),
                                                       int_arg("per_page", page_size, 1, 500)))


@bp.get("/api/dashboard/counts")
def counts_json() -> Response:
    signed_in()
    return jsonify(FloorView(hub(), lang()).counts(_filters()))


@bp.get("/api/dashboard/orders/<order_id>")
def timeline_json(order_id: str) -> Response:
    signed_in()
    found = FloorView(hub(), lang()).timeline(order_id[:80])
    if found is None:
        raise HubRequestError(f"no order {order_id[:80]!r} on this site", 404)
    return jsonify(found)


@bp.get("/api/dashboard/stream")
def stream() -> Response:
    """Server-sent events: ``change`` with the feed's head each time the hub's feed moves (any hub of the site); a
    comment every ``STREAM_PING_S`` of silence keeps proxies from closing it. The stream ends after ``STREAM_LIFE_S``
    (the browser's EventSource reconnects at once) and counts among the supervisor's long-polls (``event_stream``:
    on the hub's server the stream pump writes it; elsewhere its thread looks every ``STREAM_TICK_S``)."""
    session = signed_in()
    site = hub()

    def pumped(release: Callable[[], None]) -> tuple[Live, bytes]:
        live = Live(site, release)
        return live, live.opening()

    return event_stream(f"dashboard {session['employee_id']}", pumped, lambda: Live(site).events())


class Live:
    """One dashboard's stream: a ``change`` whenever the feed's head has moved since the last one it sent (a
    ``sync.common.pump.Source``, or ``events()`` in a thread of its own)."""

    def __init__(self, site: Hub, release: Callable[[], None] = lambda: None):
        self.site, self._release = site, release
        self.keepalive_s = STREAM_PING_S
        self.head = site.feed.head
        self.ends = time.monotonic() + STREAM_LIFE_S

    @staticmethod
    def _change(head: int) -> bytes:
        return b"event: change\ndata: %s\n\n" % json.dumps({"head": head}).encode()

    def opening(self) -> bytes:
        return b"retry: 500\n" + self._change(self.head)

    def pull(self) -> bytes | None:
        if time.monotonic() >= self.ends or self.site.feed.stopping:
            return None
        head = self.site.feed.head
        if head == self.head:
            return b""
        self.head = head
        return self._change(head)

    def keepalive(self) -> bytes:
        return b": ping\n\n"

    def closed(self) -> None:
        self._release()

    def events(self) -> Iterator[bytes]:
        yield self.opening()
        last = time.monotonic()
        while True:
            time.sleep(STREAM_TICK_S)
            out = self.pull()
            if out is None:
                return
            if out:
                last = time.monotonic()
                yield out
            elif time.monotonic() - last >= self.keepalive_s:
                last = time.monotonic()
                yield self.keepalive()


@bp.get("/static/<path:name>")
def static(name: str) -> Response:
    """The dashboard's script, style and the vendored chart library (package data, never a CDN)."""
    if name not in STATIC:
        raise HubRequestError(f"no static file {name[:80]!r}", 404)
    data = resources.files("packgate.sync.hub").joinpath("static", *name.split("/")).read_bytes()
    resp = Response(data, mimetype=STATIC[name])
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def clock_view(offset: float | None, warn_after_s: float) -> dict[str, Any]:
    """A station's clock offset as the dashboard shows it: ``+0.2 s``, ``−10 min 3 s``; warned past the threshold."""
    if offset is None:
        return {"clock_shown": "?", "clock_warning": False}
    whole = round(abs(offset))
    amount = f"{abs(offset):.1f} s" if whole < 60 else f"{whole // 60} min {whole % 60} s"
    return {"clock_shown": ("−" if offset < 0 else "+") + amount, "clock_warning": abs(offset) > warn_after_s}


def overview(site: Hub, language: str = "en") -> dict[str, Any]:
    """The dashboard's panels (stations, orders in flow, escalations, claims, conflicts, interceptions, audit, lots,
    parcels not handed over), each row with its names (``table``, ``person``) and durations in ``language``'s words."""
    view = FloorView(site, language)
    now = view.now
    offline_after = site.config["claims.offline_after_s"]
    with site.db.read() as conn:
        stations = store.stations(conn)
        flow = store.orders_in_flow(conn)
        escalations = store.escalations(conn)
        conflicts = store.conflicts(conn)
        intercepted = store.intercepted_orders(conn)
        reviews = policies.reviews(conn)
        stock_alerts = policies.alerts(conn)
        carrier_rules = policies.carriers(conn)
        claims = store.claims(conn)
        audit = store.audit_log(conn, 50)
        lots = store.ref_all(conn, "lots")
        taken = store.lots_taken(conn)
        waiting_dock = store.not_handed_over(conn, now - timedelta(minutes=site.config["dock.handover_after_min"]))
        names = {e["employee_id"]: e.get("name", e["employee_id"]) for e in store.ref_all(conn, "employees")}
        site_returns = returns.overview(conn, store.ref_all(conn, "rmas"), now, site.config["returns.alert_after_h"])
    for row in stations:
        row.update(clock_view(row.get("clock_offset_s"), site.config["clock.warn_after_s"]))
        row["online"] = (now - parse_iso(row["last_seen_at"])).total_seconds() <= offline_after
        row["name"] = site.config.station_name(row["station"])
        row["operator_name"] = names.get(row["operator"] or "", row["operator"])
    for order in flow:
        order["waiting_min"] = round((now - parse_iso(order["stage_since"])).total_seconds() / 60, 1)
    for parcel in waiting_dock:
        parcel["waiting_min"] = round((now - parse_iso(parcel["packed_at"])).total_seconds() / 60, 1)
        parcel["station_name"] = site.config.station_name(parcel["station"]) if parcel["station"] else ""
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in flow:
        by_stage[order["stage"]].append(order)
    horizon = now.date() + timedelta(days=site.config["lots.expiry_warning_days"])
    near = []
    for lot in lots:
        expires = lot.get("expires")
        if isinstance(expires, str) and date.fromisoformat(expires) <= horizon:
            used = taken.get((lot["sku"], lot["lot"]), 0)
            near.append({**lot, "taken": used, "left": (lot.get("qty") or 0) - used,
                         "expired": date.fromisoformat(expires) < now.date()})
    near.sort(key=lambda lot: lot["expires"])
    for row in [*flow, *waiting_dock, *escalations, *claims, *intercepted]:
        row["table"] = view.table(row.get("station") or row.get("packed_by"))
        row["person"] = view.person(row.get("operator") or row.get("acked_by"))
    for order in flow:
        order["waiting"] = view.duration(order["waiting_min"] * 60)
    for parcel in waiting_dock:
        parcel["waiting"] = view.duration(parcel["waiting_min"] * 60)
    for row in [*site_returns["in_progress"], *site_returns["closed"]]:
        row["table"] = view.table(row.get("station"))
    for entry in audit:
        entry["person"] = view.person(entry["who"])
        entry["what_name"] = view.words.get(f"audit_{entry['what']}", entry["what"])
        entry["subject_name"] = view.words.get(f"audit_subject_{entry['subject']}", entry["subject"])
    for found in conflicts:
        found["kind_name"] = view.words.get(f"conflict_{found['kind']}", found["kind"])
    stage_names = [s for s in store.STAGES if s not in store.TERMINAL]
    figures: dict[str, Any] = {
        "now": isoformat(now), "stations": stations, "by_stage": {s: by_stage.get(s, []) for s in stage_names},
        "blocked": by_stage.get("blocked", []), "escalations": escalations, "conflicts": conflicts,
        "claims": claims, "audit": audit, "lots": near, "not_handed_over": waiting_dock, "intercepted": intercepted,
        "returns": site_returns,
        "reviews": reviews, "stock_alerts": stock_alerts, "carrier_rules": carrier_rules, "load": site.load.status(),
    }
    return {**figures, **site.charts, "charts_paused": False}
