"""The day (or shift) report and the reconciliation with the WMS over HTTP: the page ``/reports`` (with a button that
reconciles a day now), the figures as JSON (``/api/reports/day``) and CSV (``/api/reports/day.csv``), the kept
reconciliation of a day (``GET /api/reconciliation``) and one run on demand (``POST /api/reconciliation``).

The window is a hub-local day (``day=YYYY-MM-DD``, default today so far) or a shift (``since`` and ``until``, ISO
8601 with a UTC offset, at most 31 days apart). Reads take a station's token or a supervisor's session; running the
reconciliation is a supervisor's (session and its CSRF token).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request

from packgate.device.clock import parse_iso
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import reconciliation, reports
from packgate.sync.hub.signin import signin_page
from packgate.sync.hub.web import body, checked_session, current_supervisor, hub, lang, page, station_or_supervisor

bp = Blueprint("reports", __name__)
MAX_DAYS = 31
TEXT: dict[str, dict[str, Any]] = {
    "en": {"report": "Day report", "window": "From", "to": "to", "parcels": "Parcels", "pass_rate": "Pass rate",
           "weight_failures": "Weight failures", "overrides": "Overrides", "interceptions": "Interceptions",
           "backlog": "Backlog (released, not started) now", "ship_rate": "Shipped within 24 hours",
           "per_table": "Per table", "per_packer": "Per packer", "table": "Table", "packer": "Packer",
           "weighings": "Weighings", "stages": "Average time per stage (minutes)", "stage": "Stage",
           "minutes": "Minutes", "reconciliation": "Reconciliation with the WMS", "not_run": "not run for this day",
           "differences": "differences", "station": "Station", "id": "Confirmation", "side": "Where",
           "hub_only": "on the hub only", "wms_only": "at the WMS only", "reconcile": "Reconcile this day now",
           "csv": "Download CSV", "day": "Day", "show": "Show", "back": "Dashboard", "matched": "matched",
           "stage_names": {"pick": "picking", "wait_for_table": "picked, waiting for a table", "pack": "packing",
                           "dock": "packed, waiting for the dock"}},
    "zh": {"report": "日报", "window": "从", "to": "到", "parcels": "包裹", "pass_rate": "称重通过率",
           "weight_failures": "称重不合格", "overrides": "主管放行", "interceptions": "拦截", "backlog": "当前积压（已下发未开始）",
           "ship_rate": "24小时发货率", "per_table": "按工作台", "per_packer": "按打包员", "table": "工作台",
           "packer": "打包员", "weighings": "称重次数", "stages": "各环节平均用时（分钟）", "stage": "环节",
           "minutes": "分钟", "reconciliation": "与WMS对账", "not_run": "当日未对账", "differences": "差异",
           "station": "工作台", "id": "确认记录", "side": "所在", "hub_only": "仅在现场服务器", "wms_only": "仅在WMS",
           "reconcile": "立即对账此日", "csv": "下载CSV", "day": "日期", "show": "显示", "back": "看板", "matched": "一致",
           "stage_names": {"pick": "拣货", "wait_for_table": "已拣货，等待工作台", "pack": "打包",
                           "dock": "已打包，等待出库"}},
}


def _day(value: str | None) -> date:
    if not value:
        return hub().clock.now().date()
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise HubRequestError(f"day must be a date YYYY-MM-DD (got {value[:40]!r})") from exc


def window() -> tuple[datetime, datetime]:
    """The report's window from the query: ``since`` + ``until`` (a shift), else ``day``."""
    since, until = request.args.get("since"), request.args.get("until")
    if since or until:
        try:
            start, end = parse_iso(since or ""), parse_iso(until or "")
        except (ValueError, TypeError) as exc:
            raise HubRequestError("since and until must both be ISO 8601 times with a UTC offset") from exc
        if start.tzinfo is None or end.tzinfo is None or not start < end <= start + timedelta(days=MAX_DAYS):
            raise HubRequestError(f"since must be before until, at most {MAX_DAYS} days apart, both with a UTC offset")
        return start, end
    return reconciliation.day_window(_day(request.args.get("day")), hub().clock.now().tzinfo)


def report_now() -> dict[str, Any]:
    since, until = window()
    site = hub()
    with site.db.read() as conn:
        return reports.build(conn, since, until, site.clock.now(), site.config.station_name)


@bp.get("/api/reports/day")
def report_json() -> Response:
    station_or_supervisor()
    return jsonify(report_now())


@bp.get("/api/reports/day.csv")
def report_csv() -> Response:
    station_or_supervisor()
    report = report_now()
    resp = Response(reports.to_csv(report), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="packgate-report-{report["since"][:10]}.csv"'
    return resp


@bp.get("/api/reconciliation")
def reconciliation_kept() -> Response:
    station_or_supervisor()
    day = _day(request.args.get("day"))
    with hub().db.read() as conn:
        result = reconciliation.kept(conn, day)
    if result is None:
        raise HubRequestError(f"no reconciliation kept for {day.isoformat()} (run one: POST /api/reconciliation)", 404)
    return jsonify(result)


@bp.post("/api/reconciliation")
def reconcile_api() -> Response:
    session = current_supervisor()
    if session is None:
        raise HubRequestError("sign in first (a supervisor runs the reconciliation)", 401)
    data = body()
    if data.get("csrf") != session["csrf"]:
        raise HubRequestError("csrf must be the session's CSRF token (from the dashboard page)", 403)
    day = data.get("day")
    return jsonify(hub().reconcile(_day(day if isinstance(day, str) else None)))


@bp.get("/reports")
def report_page() -> Response:
    session = current_supervisor()
    if session is None:
        return signin_page()
    report = report_now()
    return page("report.html", csrf=session["csrf"], who=session["employee_id"], r=report, rt=TEXT[lang()],
                query=request.query_string.decode("ascii", "replace"), day=report["since"][:10])


@bp.post("/reports/reconcile")
def reconcile_form() -> Any:
    checked_session()
    day = _day(request.form.get("day"))
    hub().reconcile(day)
    return redirect(f"/reports?day={day.isoformat()}", 303)
