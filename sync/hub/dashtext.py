"""Every word of the hub's pages (the dashboard and its sign-in), looked up in the one translation catalog.

``WORDS`` names the keys (``hub:<key>`` in ``station/locale/<locale>/LC_MESSAGES/packgate.po``) with the English
source and a first Chinese translation that only seeds the catalog (``packgate i18n extract``); after that the
catalog's text is the one shown. Station states, device states and names and order stages come from the catalog's
existing ``state:``, ``device:`` and ``device_name:`` entries, so a word reads the same on the table and the hub. The
catalog is package data read with Babel (no import of the station's code: the hub only reads its file).
"""
from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from babel.messages.pofile import read_po

LANGUAGES = {"en": "en", "zh": "zh_Hans"}
SHARED = {"state": "state_names", "device": "device_states", "device_name": "device_names",
          "reason": "reason_names"}  # the catalog's sections the hub's pages borrow

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Site dashboard", "现场看板"), "stations": ("Stations", "工作台"), "online": ("online", "在线"),
    "offline": ("offline", "离线"), "orders": ("Open orders by stage", "各环节未完成订单"),
    "blocked": ("Blocked parcels", "拦截的包裹"), "escalations": ("Escalations", "升级通知"),
    "conflicts": ("Conflicts", "冲突"), "lots": ("Lots near expiry", "临期批次"), "audit": ("Audit log", "审计日志"),
    "ack": ("Acknowledge", "确认"), "not_handed_over": ("Packed, not handed over at the dock", "已打包未出库"),
    "intercepted": ("Intercepted by the WMS (held or cancelled)", "WMS拦截的订单（暂停或取消）"),
    "held": ("held", "暂停"), "cancelled": ("cancelled", "已取消"), "release": ("Release claim", "释放锁定"),
    "reason": ("Reason (the table is told)", "原因（将告知工作台）"), "sign_in": ("Sign in", "登录"),
    "badge": ("Badge", "工牌"), "pin": ("PIN", "密码"), "sign_out": ("Sign out", "退出"),
    "waiting": ("waiting", "等待"), "none": ("none", "无"),
    "bad_sign_in": ("Badge or PIN not accepted (supervisors only)", "工牌或密码不正确（仅限主管）"),
    "claims": ("Claims", "锁定"),
    "locked": ("Too many wrong PINs for this badge: try again in a few minutes", "此工牌密码错误次数过多，请几分钟后再试"),
    "clock": ("Clock offset", "时钟偏差"),
    # the live dashboard
    "live": ("live", "实时"), "reconnecting": ("reconnecting…", "正在重新连接…"), "updated": ("Updated", "更新于"),
    "signed_in_as": ("Signed in", "已登录"), "language": ("Language", "语言"),
    "backlog_title": ("Backlog waiting to be picked", "待拣货积压"), "backlog_count": ("Orders", "订单数"),
    "oldest": ("Oldest", "最早"), "released_at": ("Released", "下发时间"),
    "today": ("Today", "今日"), "packed_today": ("Packed today", "今日已打包"),
    "shipped_today": ("Shipped today", "今日已发货"), "intercepted_today": ("Intercepted", "已拦截"),
    "open_total": ("Open orders", "未完成订单"),
    "stage": ("Stage", "环节"), "order": ("Order", "订单"), "age": ("Age", "停留时间"), "table": ("Table", "工作台"),
    "person": ("Person", "人员"), "carrier": ("Carrier", "承运商"), "sla": ("SLA", "时效"),
    "green": ("on time", "正常"), "amber": ("late soon", "即将超时"), "red": ("late", "已超时"),
    "all": ("All", "全部"), "min_age": ("Older than (min)", "停留超过（分钟）"), "filter": ("Filters", "筛选"),
    "clear_filters": ("Clear", "清除"), "page": ("Page", "页"), "prev": ("Previous", "上一页"), "next": ("Next", "下一页"),
    "of": ("of", "共"), "shown": ("shown", "条"), "count": ("Count", "数量"),
    "stage_times": ("Time per stage", "各环节用时"), "avg": ("Average", "平均"), "p90": ("90th percentile", "90%分位"),
    "last_hour": ("Last hour", "最近一小时"), "this_shift": ("This shift", "本班次"), "samples": ("Orders", "订单数"),
    "throughput": ("Parcels per hour", "每小时包裹数"), "per_table": ("per table", "按工作台"),
    "per_packer": ("per packer", "按打包员"), "hour": ("Hour", "小时"), "parcels": ("Parcels", "包裹数"),
    "total_shift": ("This shift", "本班次"),
    "pass_rate": ("Pass rate per station (weight checks this shift)", "各工作台通过率（本班次称重）"),
    "checks": ("Weighings", "称重次数"), "passed": ("Passed", "通过"), "rate": ("Pass rate", "通过率"),
    "state": ("State", "状态"), "operator": ("Operator", "操作员"), "devices": ("Devices", "设备"),
    "version": ("Software", "软件版本"), "outbox": ("Unsent", "待上传"), "last_seen": ("Last seen", "最近在线"),
    "current_order": ("Current order", "当前订单"), "connection": ("Connection", "连接"),
    "timeline": ("Order timeline", "订单时间线"), "close": ("Close", "关闭"), "start": ("From", "开始"),
    "end": ("To", "结束"), "duration": ("Duration", "用时"), "where": ("Where", "地点"), "who": ("Who", "人员"),
    "evidence": ("Evidence", "证据"), "action": ("Action", "动作"), "at": ("Time", "时间"),
    "show_timeline": ("Timeline", "时间线"), "now_there": ("now", "进行中"), "result": ("Result", "结果"),
    "level": ("Level", "级别"), "sent_at": ("Sent", "发送时间"), "acked": ("Acknowledged", "已确认"),
    "kind": ("Kind", "类型"), "subject": ("Subject", "对象"), "detail": ("Detail", "详情"),
    "sku": ("SKU", "商品编码"), "lot": ("Lot", "批次"), "expires": ("Expires", "到期日"), "left": ("Left", "剩余"),
    "bin": ("Bin", "库位"), "wms_reason": ("Reason", "原因"), "status": ("Status", "状态"), "decided_at": ("Decided", "决定时间"),
    "packed_at": ("Packed", "打包时间"), "claimed_at": ("Claimed", "锁定时间"), "what": ("What", "内容"),
    "expired": ("expired", "已过期"), "unknown": ("unknown", "未知"),
    "unit_h": ("{n} h", "{n} 小时"), "unit_min": ("{n} min", "{n} 分钟"), "unit_s": ("{n} s", "{n} 秒"),
    "per_hour_unit": ("parcels/h", "件/小时"), "stage_backlog": ("Backlog", "待拣货"),
    "stage_released": ("Released", "已下发"), "stage_picking": ("Picking", "拣货中"), "stage_picked": ("Picked", "已拣货"),
    "stage_packing": ("Packing", "打包中"), "stage_weighed": ("Weighed", "已称重"), "stage_blocked": ("Blocked", "已拦截"),
    "stage_packed": ("Packed, at the dock", "已打包待出库"), "stage_shipped": ("Shipped", "已发货"),
    "stage_cancelled": ("Cancelled", "已取消"), "escalation_level": ("level {n}", "第{n}级"),
    "no_orders": ("No open orders match the filters", "没有符合筛选条件的订单"),
    "no_data": ("No data yet", "暂无数据"),
    # site policies: reviews, stock alerts, carrier rules
    "reviews": ("Orders waiting for a supervisor's review", "等待主管审核的订单"), "approve": ("Approve", "通过"),
    "refuse": ("Refuse", "拒绝"), "approved": ("approved", "已通过"), "refused": ("refused", "已拒绝"),
    "stock_alerts": ("Stock alerts (replenishment requested)", "库存预警（已请求补货）"),
    "carriers": ("Carrier rules (suspended regions, daily cap, backup)", "承运商规则（暂停地区、每日上限、备用承运商）"),
    "regions": ("Regions, * = all", "地区，*为全部"), "daily_cap": ("Daily cap", "每日上限"),
    "backup": ("Backup carrier", "备用承运商"), "set_rule": ("Set", "设置"), "rules": ("Rules", "规则"),
    "decision": ("Decision", "决定"), "stock_left": ("Left / threshold", "剩余 / 阈值"),
    "load": ("Hub load", "中心负载"), "shedding": ("busy: charts and reports step aside", "繁忙：图表和报表暂缓"),
    "charts_paused": ("Charts not redrawn while the hub is busy (the scan path comes first); drawn at",
                      "中心繁忙，图表暂停更新（优先保障扫描）；绘制于"),
    # returns (逆向物流)
    "returns": ("Returns", "退货"), "returns_waiting": ("waiting", "待收货"), "returns_in_progress": ("in progress", "处理中"),
    "returns_closed": ("closed", "已完成"), "returns_overdue": ("Returns waiting too long", "等待过久的退货"),
    "top_reasons": ("Top 10 return reasons", "十大退货原因"), "processing": ("average processing", "平均处理时长"),
    "grades": ("grades", "等级"), "refund": ("refund", "退款"), "review": ("review", "人工审核"),
    "rma": ("Return (RMA)", "退货单"), "units": ("Units", "件数"), "waiting_for": ("Waiting", "已等待"),
    "returns_at_tables": ("At the tables", "工作台处理情况"), "alert_after": ("more than {n}", "超过{n}"),
    # the evidence of an order: what each confirmation was, and its facts
    "act_pick": ("picked an item", "拣货"), "act_load": ("tote loaded", "装箱完成"),
    "act_tote_load": ("tote loaded", "装箱完成"), "act_open": ("opened at the table", "在工作台打开"),
    "act_scan": ("scan", "扫码"), "act_verify": ("item checked", "商品核验"), "act_weigh": ("weighed", "称重"),
    "act_reweigh": ("re-weighed", "重新称重"), "act_override": ("supervisor override", "主管放行"),
    "act_pack": ("packed, label printed", "打包并打印面单"), "act_ship_load": ("handed over at the dock", "出库交接"),
    "act_cancel": ("packing stopped", "中止打包"), "act_manifest": ("dock manifest", "出库清单"),
    "act_escalate": ("escalation sent", "发送升级通知"), "act_escalation_ack": ("escalation acknowledged", "确认升级通知"),
    "act_badge": ("badge tapped", "刷工牌"),
    "f_result": ("result", "结果"), "f_measured_g": ("measured (g)", "实测（克）"),
    "f_expected_g": ("expected (g)", "应为（克）"), "f_diff_g": ("difference (g)", "差值（克）"),
    "f_sku": ("SKU", "商品编码"), "f_lot": ("lot", "批次"), "f_qty": ("quantity", "数量"), "f_tote": ("tote", "周转箱"),
    "f_waybill": ("waybill", "运单号"), "f_batch_id": ("dock batch", "出库批次"), "f_reason": ("reason", "原因"),
    "v_pass": ("pass", "通过"), "v_fail": ("fail", "未通过"),
    # audit log actions of the hub
    "audit_sign_in": ("signed in", "登录"), "audit_sign_out": ("signed out", "退出登录"),
    "audit_sign_in_failed": ("sign-in refused", "登录被拒"), "audit_sign_in_locked": ("sign-in locked", "登录锁定"),
    "audit_subject_dashboard": ("dashboard", "看板"), "audit_release_claim": ("claim released", "释放锁定"),
    "audit_acknowledge_escalation": ("escalation acknowledged", "确认升级通知"),
    # conflicts
    "conflict_packed_twice": ("packed twice", "重复打包"),
    "conflict_not_claim_holder": ("worked at a table that did not hold the order", "非锁定工作台操作"),
    "conflict_lot_overdrawn": ("lot overdrawn", "批次超领"), "conflict_handed_over_twice": ("handed over twice", "重复交接"),
}


def catalog_entries() -> list[tuple[str, str, str]]:
    """(key, English source, Chinese seed) of the hub's words, for ``packgate i18n extract``."""
    return [(f"hub:{key}", en, zh) for key, (en, zh) in WORDS.items()]


@functools.cache
def _catalog(locale: str) -> dict[str, str]:
    path = resources.files("packgate.station").joinpath("locale", locale, "LC_MESSAGES", "packgate.po")
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        po = read_po(f, locale=locale, domain="packgate")
    return {str(m.context): str(m.string or m.id) for m in po
            if m.id and m.context and not m.fuzzy and not m.pluralizable}


def words(lang: str) -> dict[str, Any]:
    """Every word of the hub's pages in ``lang`` ("en" / "zh"): the hub's own by key, and the shared sections as
    ``state_names``, ``device_states`` and ``device_names`` tables."""
    found = _catalog(LANGUAGES[lang])
    seed = 0 if lang == "en" else 1
    out: dict[str, Any] = {key: found.get(f"hub:{key}") or pair[seed] for key, pair in WORDS.items()}
    for section, name in SHARED.items():
        out[name] = {key.split(":", 1)[1]: text for key, text in found.items() if key.startswith(f"{section}:")}
    out["stage_names"] = {key[len("stage_"):]: out[key] for key in WORDS if key.startswith("stage_")}
    return out


def reload() -> None:
    _catalog.cache_clear()
