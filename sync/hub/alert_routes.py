"""The site's alerts over HTTP: the list (``/api/alerts``, for the dashboard and every station's supervisor page), the
acknowledgement by a supervisor (the dashboard's form ``/alerts/ack``, or a station for the supervisor signed in on
it: ``/v1/alerts/ack``), and the dashboard's alerts panel (``templates/alerts_panel.html``, filled by the context
function ``alert_panel()`` so the dashboard page needs only its include line).

Invariants: an acknowledgement is a supervisor's (403 otherwise), audited once; an unknown alert is a 404.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request

from packgate.device.clock import parse_iso
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import alerts
from packgate.sync.hub.web import body, checked_session, hub, int_arg, lang, station, station_or_supervisor, text

bp = Blueprint("alerts", __name__)
MAX_ID = 300
TEXT: dict[str, dict[str, Any]] = {
    "en": {"alerts": "Alerts", "channel": "Channel", "address": "Address",
           "rule": "Rule", "subject": "What", "raised": "Raised", "state": "Notification",
           "ack": "Acknowledge", "acked": "acknowledged by", "none": "none", "channels": "Notification channels",
           "failing": "failing since", "ok": "working", "unusable": "not understood", "no_channel":
           "No notification channel is configured: alerts and escalations are shown here only, sent to nobody.",
           "sent": "sent", "not_sent": "not sent (no channel)", "pending": "waiting to send", "sending": "sending",
           "purposes": {"escalations": "escalations", "alerts": "alerts", "reports": "reports"},
           "kinds": {"stuck": "stuck in a stage", "queue": "queue over its limit", "volume": "hourly volume",
                     "sync_failures": "sync failures", "station_offline": "table offline", "clock": "table clock",
                     "channel": "notification channel", "reconciliation": "reconciliation with the WMS"}},
    "zh": {"alerts": "告警", "channel": "渠道", "address": "地址",
           "rule": "规则", "subject": "对象", "raised": "触发时间", "state": "通知", "ack": "确认",
           "acked": "已确认：", "none": "无", "channels": "通知渠道", "failing": "失败自", "ok": "正常",
           "unusable": "无法识别", "no_channel": "未配置任何通知渠道：告警和升级只在此显示，不会发送给任何人。",
           "sent": "已发送", "not_sent": "未发送（无渠道）", "pending": "等待发送", "sending": "发送中",
           "purposes": {"escalations": "升级通知", "alerts": "告警", "reports": "报表"},
           "kinds": {"stuck": "环节停留超时", "queue": "队列超限", "volume": "每小时单量", "sync_failures": "同步失败",
                     "station_offline": "工作台离线", "clock": "工作台时钟", "channel": "通知渠道",
                     "reconciliation": "与WMS对账"}},
}


@bp.get("/api/alerts")
def list_alerts() -> Response:
    station_or_supervisor()
    open_only = request.args.get("open", "") in ("1", "true")
    limit = int_arg("limit", 200, 1, 1000)
    with hub().db.read() as conn:
        rows = alerts.listing(conn, open_only=open_only, limit=limit)
    return jsonify({"alerts": rows, "open": sum(1 for row in rows if row["acked_at"] is None),
                    "channels": hub().channels(), "warnings": hub().config.warnings()})


@bp.post("/alerts/ack")
def ack_form() -> Any:
    session = checked_session()
    hub().acknowledge_alert(request.form.get("id", "")[:MAX_ID], session["employee_id"], "dashboard")
    return redirect("/", 303)


@bp.post("/v1/alerts/ack")
def ack_api() -> Response:
    who = station()
    data = body()
    ident, by = data.get("id"), text(data, "by")
    if not isinstance(ident, str) or "/" not in ident or len(ident) > MAX_ID:
        raise HubRequestError(f"id must be an alert id <rule>/<subject> of at most {MAX_ID} characters")
    assert by is not None
    return jsonify({**hub().acknowledge_alert(ident, by, who), "id": ident})


@bp.app_context_processor
def panel_context() -> dict[str, Any]:
    def alert_panel() -> dict[str, Any]:
        with hub().db.read() as conn:
            rows = alerts.listing(conn, limit=50)
        words = TEXT[lang()]
        tz = hub().clock.now().tzinfo
        for row in rows:
            row["raised_shown"] = f"{parse_iso(row['raised_at']).astimezone(tz):%m-%d %H:%M}"
            row["kind_shown"] = words["kinds"].get(row["kind"], row["kind"])
            row["state_shown"] = words.get(row["state"], row["state"])
        return {"rows": rows, "channels": hub().channels(), "warnings": hub().config.warnings(), "at": words}

    return {"alert_panel": alert_panel}
