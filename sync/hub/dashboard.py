"""The supervisors' site dashboard at ``/`` (phone and wall screen), English and Chinese: the page, its JSON
(``/api/dashboard``) and its forms (acknowledge an escalation, release a claim with a reason). Charts are inline SVG.

Invariants: without a supervisor's session the page is the sign-in form (``signin``) and the JSON a 401; every form
carries the session's CSRF token (403 otherwise); every change is made as the signed-in supervisor.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request
from markupsafe import Markup

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import policies, returns, store
from packgate.sync.hub.charts import bar_chart
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.signin import signin_page
from packgate.sync.hub.web import checked_session, current_supervisor, hub, page

bp = Blueprint("dashboard", __name__)
WAIT_BUCKETS = ((5, "<5"), (10, "5-10"), (15, "10-15"), (30, "15-30"), (10**9, "30+"))


@bp.get("/")
def dashboard() -> Response:
    session = current_supervisor()
    if session is None:
        return signin_page()
    return page("dashboard.html", csrf=session["csrf"], who=session["employee_id"], **overview(hub()))


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
    if current_supervisor() is None:
        raise HubRequestError("sign in first", 401)
    data = overview(hub())
    return jsonify({k: v for k, v in data.items() if not k.startswith("chart_")})


def clock_view(offset: float | None, warn_after_s: float) -> dict[str, Any]:
    """A station's clock offset as the dashboard shows it: ``+0.2 s``, ``−10 min 3 s``; warned past the threshold."""
    if offset is None:
        return {"clock_shown": "?", "clock_warning": False}
    whole = round(abs(offset))
    amount = f"{abs(offset):.1f} s" if whole < 60 else f"{whole // 60} min {whole % 60} s"
    return {"clock_shown": ("−" if offset < 0 else "+") + amount, "clock_warning": abs(offset) > warn_after_s}


def overview(site: Hub) -> dict[str, Any]:
    now = site.clock.now()
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
        packs = store.pack_times(conn, now - timedelta(hours=8))
        packed = store.packed_orders(conn, now - timedelta(hours=24))
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
    hours = [(now - timedelta(hours=h)).astimezone() for h in range(7, -1, -1)]
    labels = [f"{h:%H}h" for h in hours]
    per_station: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(hours))
    for row in packs:
        at = parse_iso(row["at_utc"]).astimezone(now.tzinfo)
        index = 7 - int((now - at).total_seconds() // 3600)
        if 0 <= index < len(hours):
            per_station[site.config.station_name(row["station"])][index] += 1
    durations: Counter[str] = Counter()
    for order in packed:
        picked, done = order["milestones"].get("picked"), order["milestones"].get("packed")
        if picked and done:
            minutes = (parse_iso(done) - parse_iso(picked)).total_seconds() / 60
            durations[next(label for limit, label in WAIT_BUCKETS if minutes < limit)] += 1
    stage_names = [s for s in store.STAGES if s not in store.TERMINAL]
    figures: dict[str, Any] = {
        "now": isoformat(now), "stations": stations, "by_stage": {s: by_stage.get(s, []) for s in stage_names},
        "blocked": by_stage.get("blocked", []), "escalations": escalations, "conflicts": conflicts,
        "claims": claims, "audit": audit, "lots": near, "not_handed_over": waiting_dock, "intercepted": intercepted,
        "returns": site_returns,
        "reviews": reviews, "stock_alerts": stock_alerts, "carrier_rules": carrier_rules, "load": site.load.status()}
    if figures["load"]["shedding"] and site.charts:  # the charts can wait: the last ones drawn are shown
        site.load.shed("charts")
        return {**figures, **site.charts, "charts_paused": True}
    site.charts = {
        "charts_at": isoformat(now),
        "chart_per_hour": Markup(bar_chart("parcels per hour", labels, dict(per_station) or {"-": [0.0] * 8})),
        "chart_pick_to_pack": Markup(bar_chart("picked to packed", [label for _, label in WAIT_BUCKETS],
                                               {"orders": [float(durations[label]) for _, label in WAIT_BUCKETS]})),
        "chart_by_stage": Markup(bar_chart("waiting by stage", stage_names,
                                           {"orders": [float(len(by_stage.get(s, []))) for s in stage_names]})),
    }
    return {**figures, **site.charts, "charts_paused": False}
