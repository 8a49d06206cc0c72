"""What the hub's blueprints share: the ``Hub`` of the app serving the request, who is asking (a station by its
bearer token, a supervisor by the dashboard's session cookie), the request-body and query helpers and the
dashboard's page renderer in English and Chinese.

Invariants: the ``Hub`` lives in ``current_app.extensions`` (put there by ``create_hub_app``), never in a module
global. A bad request raises ``HubRequestError`` (the app answers it in JSON with its status); a station is known
only by a token from ``[stations]`` and only ever acts as itself (``require_station``).
"""
from __future__ import annotations

from typing import Any, cast

from flask import Response, current_app, g, render_template, request

from packgate.sync.common.jsonbytes import loads_request
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import store
from packgate.sync.hub.auth import COOKIE, session_key, station_for_token
from packgate.sync.hub.hub import Hub

HUB = "packgate.hub"
MAX_FIELD = 200
TEXT = {
    "en": {"title": "Site dashboard", "stations": "Stations", "online": "online", "offline": "offline",
           "orders": "Open orders by stage", "blocked": "Blocked parcels", "escalations": "Escalations",
           "conflicts": "Conflicts", "lots": "Lots near expiry", "audit": "Audit log", "ack": "Acknowledge",
           "not_handed_over": "Packed, not handed over at the dock",
           "intercepted": "Intercepted by the WMS (held or cancelled)", "held": "held", "cancelled": "cancelled",
           "release": "Release claim",
           "reason": "reason (the table is told)", "sign_in": "Sign in", "badge": "Badge", "pin": "PIN", "sign_out": "Sign out",
           "waiting": "waiting", "none": "none", "per_hour": "Parcels per hour per station",
           "pick_to_pack": "Picked to packed (minutes)", "by_stage": "Waiting orders by stage",
           "bad_sign_in": "Badge or PIN not accepted (supervisors only)", "claims": "Claims",
           "locked": "Too many wrong PINs for this badge: try again in a few minutes", "clock": "clock",
           "load": "Hub load", "shedding": "busy: charts and reports step aside",
           "charts_paused": "Charts not redrawn while the hub is busy (the scan path comes first); drawn at",
           "reviews": "Orders waiting for a supervisor's review", "approve": "Approve", "refuse": "Refuse",
           "approved": "approved", "refused": "refused", "stock_alerts": "Stock alerts (replenishment requested)",
           "carriers": "Carrier rules (suspended regions, daily cap, backup)", "carrier": "carrier",
           "regions": "regions, * = all", "daily_cap": "daily cap", "backup": "backup", "set_rule": "Set",
           "returns": "Returns", "returns_waiting": "waiting", "returns_in_progress": "in progress",
           "returns_closed": "closed", "returns_overdue": "Returns waiting too long", "top_reasons": "Top 10 return reasons",
           "processing": "average processing", "grades": "grades", "refund": "refund", "review": "review"},
    "zh": {"title": "现场看板", "stations": "工作台", "online": "在线", "offline": "离线", "orders": "各环节未完成订单",
           "blocked": "拦截的包裹", "escalations": "升级通知", "conflicts": "冲突", "lots": "临期批次", "audit": "审计日志",
           "not_handed_over": "已打包未出库",
           "intercepted": "WMS拦截的订单（暂停或取消）", "held": "暂停", "cancelled": "已取消",
           "ack": "确认", "release": "释放锁定",
           "reason": "原因（将告知工作台）", "sign_in": "登录", "badge": "工牌", "pin": "密码", "sign_out": "退出",
           "waiting": "等待", "none": "无", "per_hour": "每台每小时包裹数", "pick_to_pack": "拣货到打包（分钟）",
           "by_stage": "各环节等待订单", "bad_sign_in": "工牌或密码不正确（仅限主管）", "claims": "锁定",
           "locked": "此工牌密码错误次数过多，请几分钟后再试", "clock": "时钟",
           "load": "中心负载", "shedding": "繁忙：图表和报表暂缓",
           "charts_paused": "中心繁忙，图表暂停更新（优先保障扫描）；绘制于",
           "reviews": "等待主管审核的订单", "approve": "通过", "refuse": "拒绝", "approved": "已通过", "refused": "已拒绝",
           "stock_alerts": "库存预警（已请求补货）",
           "carriers": "承运商规则（暂停地区、每日上限、备用承运商）", "carrier": "承运商", "regions": "地区，*为全部",
           "daily_cap": "每日上限", "backup": "备用承运商", "set_rule": "设置",
           "returns": "退货", "returns_waiting": "待收货", "returns_in_progress": "处理中", "returns_closed": "已完成",
           "returns_overdue": "等待过久的退货", "top_reasons": "十大退货原因", "processing": "平均处理时长",
           "grades": "等级", "refund": "退款", "review": "人工审核"},
}


def hub() -> Hub:
    return cast(Hub, current_app.extensions[HUB])


# ---- who is asking -----------------------------------------------------------------------------------
def station() -> str:
    """The authenticated station of this request (401 without a known token)."""
    if "station" not in g:
        g.station = station_for_token(request.headers.get("Authorization"), hub().config["stations"])
    return str(g.station)


def current_supervisor() -> dict[str, Any] | None:
    """The dashboard session of this request's cookie (a signed-in supervisor), if any."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with hub().db.read() as conn:
        return store.get_session(conn, session_key(token), hub().clock.now())


def station_or_supervisor() -> str:
    """A station's token, or else a supervisor's dashboard session (401 with neither); returns who: the station's id
    or ``supervisor <employee id>``."""
    if request.headers.get("Authorization"):
        return station()
    session = current_supervisor()
    if session is None:
        raise HubRequestError("missing Authorization: Bearer <station token> (or a supervisor sign-in)", 401)
    return f"supervisor {session['employee_id']}"


def checked_session() -> dict[str, Any]:
    """The signed-in supervisor of a dashboard form, whose CSRF token the form carries (401 / 403 otherwise)."""
    session = current_supervisor()
    if session is None:
        raise HubRequestError("sign in first", 401)
    if request.form.get("csrf", "") != session["csrf"]:
        raise HubRequestError("the form's CSRF token is missing or stale; reload the page", 403)
    return session


# ---- request bodies and queries ------------------------------------------------------------------------
def body() -> dict[str, Any]:
    try:
        data = loads_request(request.get_data())
    except ValueError as exc:  # JSONInputError and UnicodeDecodeError too
        raise HubRequestError(f"body is not acceptable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HubRequestError("body must be a JSON object")
    return data


def text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HubRequestError(f"{name} must be a non-empty string")
    if len(value) > MAX_FIELD:
        raise HubRequestError(f"{name} is longer than {MAX_FIELD} characters")
    return value


def int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise HubRequestError(f"{name} must be a whole number {low}..{high}")
    return max(low, min(int(value), high))


def cursor(value: str, name: str) -> int:
    """A feed cursor given in a header (``Last-Event-ID``): a whole number."""
    if not (value.isascii() and value.isdigit()) or len(value) > 17:
        raise HubRequestError(f"{name} must be a feed cursor (a whole number)")
    return int(value)


# ---- the dashboard's pages -----------------------------------------------------------------------------
def lang() -> str:
    """The page's language: ``?lang=``, else the ``lang`` cookie, else the site's ``site.language``."""
    wanted = request.args.get("lang") or request.cookies.get("lang") or ""
    return wanted if wanted in TEXT else hub().config["site.language"]


def page(template: str, status: int = 200, **context: Any) -> Response:
    code = lang()
    resp = Response(render_template(template, t=TEXT[code], lang=code, site=hub().config["site.name"], **context),
                    status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    resp.headers["Cache-Control"] = "no-store"
    if request.args.get("lang") in TEXT:
        resp.set_cookie("lang", code, samesite="Strict")
    return resp
