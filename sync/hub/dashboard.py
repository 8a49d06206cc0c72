"""The supervisors' site dashboard at ``/`` (phone and wall screen), English and Chinese.

Sign-in with badge + PIN (supervisors in the reference data), a server-side session in
``hub_sessions`` (sign-out deletes it) and a CSRF token on every form. Charts are inline SVG.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request
from markupsafe import Markup

from packgate.device.clock import isoformat, parse_iso
from packgate.device.codes import canonical_badge
from packgate.sync.common.pins import Lockout
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import store
from packgate.sync.hub.auth import new_token, pin_matches
from packgate.sync.hub.charts import bar_chart
from packgate.sync.hub.hub import Hub

COOKIE = "packgate_site"
WAIT_BUCKETS = ((5, "<5"), (10, "5-10"), (15, "10-15"), (30, "15-30"), (10**9, "30+"))
TEXT = {
    "en": {"title": "Site dashboard", "stations": "Stations", "online": "online", "offline": "offline",
           "orders": "Open orders by stage", "blocked": "Blocked parcels", "escalations": "Escalations",
           "conflicts": "Conflicts", "lots": "Lots near expiry", "audit": "Audit log", "ack": "Acknowledge",
           "not_handed_over": "Packed, not handed over at the dock",
           "release": "Release claim", "sign_in": "Sign in", "badge": "Badge", "pin": "PIN", "sign_out": "Sign out",
           "waiting": "waiting", "none": "none", "per_hour": "Parcels per hour per station",
           "pick_to_pack": "Picked to packed (minutes)", "by_stage": "Waiting orders by stage",
           "bad_sign_in": "Badge or PIN not accepted (supervisors only)", "claims": "Claims",
           "locked": "Too many wrong PINs for this badge: try again in a few minutes"},
    "zh": {"title": "现场看板", "stations": "工作台", "online": "在线", "offline": "离线", "orders": "各环节未完成订单",
           "blocked": "拦截的包裹", "escalations": "升级通知", "conflicts": "冲突", "lots": "临期批次", "audit": "审计日志",
           "not_handed_over": "已打包未出库",
           "ack": "确认", "release": "释放锁定", "sign_in": "登录", "badge": "工牌", "pin": "密码", "sign_out": "退出",
           "waiting": "等待", "none": "无", "per_hour": "每台每小时包裹数", "pick_to_pack": "拣货到打包（分钟）",
           "by_stage": "各环节等待订单", "bad_sign_in": "工牌或密码不正确（仅限主管）", "claims": "锁定",
           "locked": "此工牌密码错误次数过多，请几分钟后再试"},
}


def current_supervisor(hub: Hub) -> dict[str, Any] | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with hub.db.read() as conn:
        return store.get_session(conn, token, hub.clock.now())


def _lang() -> str:
    wanted = request.args.get("lang") or request.cookies.get("lang") or ""
    return wanted if wanted in TEXT else ""


def register_dashboard(app: Flask, hub: Hub) -> None:
    lockout = Lockout(hub.clock.monotonic)  # the station's rule: 5 wrong PINs per employee lock for 5 minutes
    app.jinja_loader = None
    from jinja2 import PackageLoader

    app.jinja_loader = PackageLoader("packgate.sync.hub", "templates")

    def lang() -> str:
        return _lang() or hub.config["site.language"]

    def page(template: str, status: int = 200, **context: Any) -> Response:
        code = lang()
        resp = Response(render_template(template, t=TEXT[code], lang=code, site=hub.config["site.name"], **context),
                        status=status, mimetype="text/html")
        resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        resp.headers["Cache-Control"] = "no-store"
        if request.args.get("lang") in TEXT:
            resp.set_cookie("lang", code, samesite="Strict")
        return resp

    def checked_session() -> dict[str, Any]:
        session = current_supervisor(hub)
        if session is None:
            raise HubRequestError("sign in first", 401)
        if request.form.get("csrf", "") != session["csrf"]:
            raise HubRequestError("the form's CSRF token is missing or stale; reload the page", 403)
        return session

    @app.get("/")
    def dashboard() -> Response:
        session = current_supervisor(hub)
        if session is None:
            return page("signin.html", error=None)
        return page("dashboard.html", csrf=session["csrf"], who=session["employee_id"], **overview(hub))

    @app.post("/login")
    def login() -> Any:
        badge, pin = request.form.get("badge", "")[:64], request.form.get("pin", "")[:64]
        with hub.db.read() as conn:
            employee = store.employee_by_badge(conn, badge) or store.ref_get(conn, "employees", badge.strip())
        target = employee["employee_id"] if employee else f"badge:{canonical_badge(badge)}"
        if lockout.wait_s(target):  # per employee, whatever form the badge string takes
            with hub.db.tx() as conn:
                store.audit(conn, hub.clock.now(), target, "sign_in_locked", "dashboard", None, None)
            return page("signin.html", status=429, error=TEXT[lang()]["locked"])
        if employee is None or employee.get("role") != "supervisor" or not pin or not pin_matches(employee, pin):
            lockout.failed(target)
            with hub.db.tx() as conn:
                store.audit(conn, hub.clock.now(), target, "sign_in_failed",
                            "dashboard", None, None)
            return page("signin.html", status=401, error=TEXT[lang()]["bad_sign_in"])
        token = new_token()
        with hub.db.tx() as conn:
            store.create_session(conn, token, employee["employee_id"], new_token(), hub.clock.now(),
                                 hub.config["dashboard.session_s"])
            store.audit(conn, hub.clock.now(), employee["employee_id"], "sign_in", "dashboard", None, None)
        resp = redirect("/", 303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict",
                        max_age=int(hub.config["dashboard.session_s"]))
        return resp

    @app.post("/logout")
    def logout() -> Any:
        session = checked_session()
        with hub.db.tx() as conn:
            store.delete_session(conn, session["token"])
        resp = redirect("/", 303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.post("/escalations/ack")
    def ack() -> Any:
        session = checked_session()
        level_text = request.form.get("level", "")
        if not (level_text.isascii() and level_text.isdigit() and len(level_text) < 3):
            raise HubRequestError("level must be 1 or 2")
        with hub.db.tx() as conn:
            store.acknowledge(conn, request.form.get("order_id", "")[:80], int(level_text), session["employee_id"],
                              hub.clock.now())
        return redirect("/", 303)

    @app.post("/claims/release")
    def release() -> Any:
        session = checked_session()
        hub.release(request.form.get("order_id", "")[:80], supervisor=session["employee_id"],
                    reason=request.form.get("reason", "")[:200])
        return redirect("/", 303)

    @app.get("/api/dashboard")
    def dashboard_json() -> Response:
        if current_supervisor(hub) is None:
            raise HubRequestError("sign in first", 401)
        data = overview(hub)
        return jsonify({k: v for k, v in data.items() if not k.startswith("chart_")})


def overview(hub: Hub) -> dict[str, Any]:
    now = hub.clock.now()
    offline_after = hub.config["claims.offline_after_s"]
    with hub.db.read() as conn:
        stations = store.stations(conn)
        flow = store.orders_in_flow(conn)
        escalations = store.escalations(conn)
        conflicts = store.conflicts(conn)
        claims = store.claims(conn)
        audit = store.audit_log(conn, 50)
        lots = store.ref_all(conn, "lots")
        taken = store.lots_taken(conn)
        packs = store.pack_times(conn, now - timedelta(hours=8))
        packed = store.packed_orders(conn, now - timedelta(hours=24))
        waiting_dock = store.not_handed_over(conn, now - timedelta(minutes=hub.config["dock.handover_after_min"]))
        names = {e["employee_id"]: e.get("name", e["employee_id"]) for e in store.ref_all(conn, "employees")}
    for row in stations:
        row["online"] = (now - parse_iso(row["last_seen_at"])).total_seconds() <= offline_after
        row["name"] = hub.config.station_name(row["station"])
        row["operator_name"] = names.get(row["operator"] or "", row["operator"])
    for order in flow:
        order["waiting_min"] = round((now - parse_iso(order["stage_since"])).total_seconds() / 60, 1)
    for parcel in waiting_dock:
        parcel["waiting_min"] = round((now - parse_iso(parcel["packed_at"])).total_seconds() / 60, 1)
        parcel["station_name"] = hub.config.station_name(parcel["station"]) if parcel["station"] else ""
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in flow:
        by_stage[order["stage"]].append(order)
    horizon = now.date() + timedelta(days=hub.config["lots.expiry_warning_days"])
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
            per_station[hub.config.station_name(row["station"])][index] += 1
    durations: Counter[str] = Counter()
    for order in packed:
        picked, done = order["milestones"].get("picked"), order["milestones"].get("packed")
        if picked and done:
            minutes = (parse_iso(done) - parse_iso(picked)).total_seconds() / 60
            durations[next(label for limit, label in WAIT_BUCKETS if minutes < limit)] += 1
    stage_names = [s for s in store.STAGES if s not in store.TERMINAL]
    return {
        "now": isoformat(now), "stations": stations, "by_stage": {s: by_stage.get(s, []) for s in stage_names},
        "blocked": by_stage.get("blocked", []), "escalations": escalations, "conflicts": conflicts,
        "claims": claims, "audit": audit, "lots": near, "not_handed_over": waiting_dock,
        "chart_per_hour": Markup(bar_chart("parcels per hour", labels, dict(per_station) or {"-": [0.0] * 8})),
        "chart_pick_to_pack": Markup(bar_chart("picked to packed", [label for _, label in WAIT_BUCKETS],
                                               {"orders": [float(durations[label]) for _, label in WAIT_BUCKETS]})),
        "chart_by_stage": Markup(bar_chart("waiting by stage", stage_names,
                                           {"orders": [float(len(by_stage.get(s, []))) for s in stage_names]})),
    }
