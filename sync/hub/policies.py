"""The site policies at the hub (issue 28): what the tables' ``review``, ``carrier_switch`` and ``replenish``
confirmations tell the site, and the supervisor's review decision from the dashboard.

* **review** — an order a table opened under review (``decision: required``) waits in ``hub_reviews`` and shows on
  the dashboard; a supervisor signed in there (badge + PIN) approves or refuses it: audited, one ``review``
  confirmation for the WMS (the hub's own, once per order), and a ``review_decided`` feed event the table acts on (the
  label prints, or the order ends there). A decision made at the table is kept the same way.
* **carrier_switch** — the carrier a parcel was switched to; the dock of any table checks the parcel against it.
* **replenish**, **stock_short** — a stock threshold crossed at a table, a PDA's pick short of stock: the shift
  lead is told on the hub's alert channels (``alerts.notify``, else ``escalation.notify``; Apprise) by ``notify_due``, each alert once.

Plain strings, like the rest of the hub: the station's ``core`` words are not imported here.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from packgate.device.clock import Clock, isoformat
from packgate.sync.common.notify import Notifier
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database

log = logging.getLogger(__name__)
DECISIONS = {"approve": "approved", "refuse": "refused"}


def on_confirmation(conn: Conn, station: str, item: dict[str, Any], now: datetime) -> None:
    """Keep what a table's ``review``, ``carrier_switch`` or ``replenish`` says (inside its receipt's transaction)."""
    action, payload, subject = item.get("action"), item.get("payload") or {}, str(item.get("object_id"))
    stamp = isoformat(now)
    if action == "review" and payload.get("decision") == "required":
        conn.execute("INSERT INTO hub_reviews (order_id, station, rules, opened_at) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT (order_id) DO NOTHING",
                     (subject, station, json.dumps(payload.get("rules") or []), stamp))
        store.feed(conn, now, "review_required", subject, {"order_id": subject, "station": station})
    elif action == "review" and payload.get("decision") in ("approved", "refused"):
        conn.execute("UPDATE hub_reviews SET decision = ?, decided_by = ?, decided_at = ?, reason = ?, via = ?"
                     " WHERE order_id = ? AND decision IS NULL",
                     (payload["decision"], item.get("operator"), stamp, str(payload.get("reason") or ""), station,
                      subject))
    elif action == "carrier_switch" and isinstance(payload.get("to"), str):
        conn.execute("INSERT INTO hub_carrier_switches (order_id, booked, carrier, why, station, at) VALUES"
                     " (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET carrier = excluded.carrier,"
                     " why = excluded.why, station = excluded.station, at = excluded.at",
                     (subject, str(payload.get("from")), payload["to"], str(payload.get("why") or ""), station, stamp))
    elif action in ("replenish", "stock_short"):
        kind = "threshold" if action == "replenish" else "short"
        conn.execute("INSERT INTO hub_stock_alerts (station, kind, sku, detail, at) VALUES (?, ?, ?, ?, ?)",
                     (station, kind, payload.get("sku"), json.dumps(payload), stamp))


def carrier_of(conn: Conn, order_id: str) -> str | None:
    """The carrier a table switched ``order_id`` to (None: as the WMS booked it)."""
    value = conn.value("SELECT carrier FROM hub_carrier_switches WHERE order_id = ?", (order_id,))
    return None if value is None else str(value)


def decide(conn: Conn, now: datetime, code: str, order_id: str, decision: str, supervisor: str,
           reason: str) -> dict[str, Any]:
    """A supervisor's decision on a review from the dashboard: audited, one ``review`` for the WMS, a
    ``review_decided`` event for the table."""
    decided = DECISIONS.get(decision)
    if decided is None:
        raise HubRequestError("decision must be approve or refuse")
    why = reason.strip()
    if decided == "refused" and not why:
        raise HubRequestError("a reason is required to refuse an order at review")
    employee = store.ref_get(conn, "employees", supervisor)
    if employee is None or employee.get("role") != "supervisor":
        raise HubRequestError(f"{supervisor} is not a supervisor of this site", 403)
    row = conn.one("SELECT * FROM hub_reviews WHERE order_id = ?", (order_id,))
    if row is None:
        raise HubRequestError(f"{order_id} is not under review on this site", 404)
    if row["decision"] is not None:
        raise HubRequestError(f"{order_id} was {row['decision']} already by {row['decided_by']}", 409)
    why = why or "approved from the dashboard"
    conn.execute("UPDATE hub_reviews SET decision = ?, decided_by = ?, decided_at = ?, reason = ?, via = 'dashboard'"
                 " WHERE order_id = ?", (decided, supervisor, isoformat(now), why, order_id))
    store.audit(conn, now, supervisor, f"review_{decided}", order_id, {"review": "pending"},
                {"review": decided, "reason": why})
    rules = json.loads(row["rules"])
    store.own_confirmation(conn, code, now, "review", order_id, supervisor, f"review:{order_id}",
                           {"decision": decided, "rules": rules, "reason": why, "supervisor": supervisor,
                            "station": row["station"], "via": "dashboard"})
    event = {"order_id": order_id, "station": row["station"], "decision": decided, "by": supervisor,
             "by_name": employee.get("name") or supervisor, "reason": why}
    store.feed(conn, now, "review_decided", order_id, event)
    return event


def set_carrier(conn: Conn, now: datetime, carrier: str, regions: str, cap: str, backup: str, reason: str,
                supervisor: str) -> dict[str, Any]:
    """A supervisor suspends or caps a carrier from the dashboard (the form's plain texts: regions comma-separated,
    ``*`` for all; cap a whole number or empty): the rule joins the hub's mirror of the WMS's carrier rules, which the
    tables pull with their reference data (the WMS's next row for that carrier replaces it). Audited."""
    name = carrier.strip()
    if not name or len(name) > 64:
        raise HubRequestError("carrier must be a carrier code")
    employee = store.ref_get(conn, "employees", supervisor)
    if employee is None or employee.get("role") != "supervisor":
        raise HubRequestError(f"{supervisor} is not a supervisor of this site", 403)
    cap_text = cap.strip()
    if cap_text and not (cap_text.isascii() and cap_text.isdigit() and len(cap_text) < 10):
        raise HubRequestError("daily cap must be a whole number 0 or more (or empty: no cap)")
    fallback = backup.strip() or None
    if fallback == name:
        raise HubRequestError("backup must be another carrier")
    rule = {"carrier": name, "suspended_regions": [r.strip().upper() for r in regions.split(",") if r.strip()],
            "daily_cap": int(cap_text) if cap_text else None, "backup": fallback, "reason": reason.strip(),
            "set_by": supervisor, "set_at": isoformat(now)}
    before = store.ref_get(conn, "carriers", name)
    store.upsert_ref(conn, [("carriers", rule)])
    store.audit(conn, now, supervisor, "carrier_rule", name, before, rule)
    store.feed(conn, now, "reference", "reference", {"cursor": str(store.ref_cursor(conn)), "rows": 1})
    return rule


def carriers(conn: Conn) -> list[dict[str, Any]]:
    return [json.loads(r["data"]) for r in conn.execute("SELECT data FROM hub_ref WHERE kind = 'carriers' ORDER BY key")]


def reviews(conn: Conn, limit: int = 50) -> list[dict[str, Any]]:
    """The site's reviews, those waiting first (the dashboard)."""
    rows = conn.execute("SELECT * FROM hub_reviews ORDER BY CASE WHEN decision IS NULL THEN 0 ELSE 1 END,"
                        " opened_at DESC LIMIT ?", (limit,))
    return [{**r, "rules": json.loads(r["rules"])} for r in rows]


def alerts(conn: Conn, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM hub_stock_alerts ORDER BY id DESC LIMIT ?", (limit,))
    return [{**r, "detail": json.loads(r["detail"])} for r in rows]


def notify_due(db: Database, notifier: Notifier, clock: Clock) -> int:
    """Tell the shift lead about each stock alert not told yet (outside any transaction); how many went out."""
    with db.read() as conn:
        due = conn.execute("SELECT * FROM hub_stock_alerts WHERE notified_at IS NULL AND notify_error IS NULL"
                           " ORDER BY id LIMIT 20")
    sent = 0
    for alert in due:
        d = json.loads(alert["detail"])
        where = f"{alert['sku']} lot {d['lot']}" if d.get("lot") else str(alert["sku"])
        if alert["kind"] == "short":
            title = f"Short pick: {alert['sku']} / 拣货缺货：{alert['sku']}"
            body = (f"{d.get('missing')} missing at the pick of {d.get('picker') or '?'} ({alert['station']}). / "
                    f"缺{d.get('missing')}件（{alert['station']}）。")
        else:
            title = f"Stock low: {where} / 库存低于安全水平：{where}"
            body = (f"{d.get('after')} left at {alert['station']}, safety level {d.get('threshold')}; replenishment "
                    f"requested. / 剩余{d.get('after')}，安全库存{d.get('threshold')}；已请求补货。")
        ok, error = notifier.send(title, body, {"kind": f"stock_{alert['kind']}", "station": alert["station"], **d})
        db.run(lambda conn, a=alert, ok=ok, error=error: conn.execute(
            "UPDATE hub_stock_alerts SET notified_at = ?, notify_error = ? WHERE id = ?",
            (isoformat(clock.now()) if ok else None, None if ok else str(error)[:300], a["id"])))
        sent += int(ok)
    return sent
