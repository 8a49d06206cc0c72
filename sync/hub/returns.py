"""Returns across the site (逆向物流): what the tables' return confirmations tell the hub, and the dashboard's view
of them: returns waiting (announced by the WMS, not yet received at a table), in progress, closed (processing
time, outcome, grades), the top ten customer reasons, and the alert rule ``returns.alert_after_h`` (a return
announced that long ago and not closed is listed in red).

Invariant: ``apply`` runs in the transaction that stores the confirmation (a repeat of one never gets here), and
only moves a return forward (received → closed); the times are the tables' (``at``) and the WMS's.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from packgate.device.clock import parse_iso
from packgate.sync.hub.engine import Conn

ACTIONS = ("return_received", "return_item", "return_graded", "return_closed")
GRADES = ("A", "B", "C")
TOP = 10


def apply(conn: Conn, station: str, item: dict[str, Any]) -> None:
    """A return confirmation from ``station`` (inside its transaction)."""
    if item["object_type"] != "rma" or item["action"] not in ACTIONS:
        return
    p = item["payload"]
    rma_id, at = item["object_id"], item["at"]
    reason = _text(p.get("reason"))
    conn.execute("INSERT INTO hub_returns (rma_id, order_id, reason, station, operator, state, received_at)"
                 " VALUES (?, ?, ?, ?, ?, 'in_progress', ?) ON CONFLICT (rma_id) DO NOTHING",
                 (rma_id, _text(p.get("order_id")) or "", reason, station, _text(item.get("operator")), at))
    if item["action"] == "return_item":
        conn.execute("UPDATE hub_returns SET units = units + 1 WHERE rma_id = ?", (rma_id,))
    if item["action"] == "return_closed":
        grades = p.get("grades") if isinstance(p.get("grades"), dict) else {}
        conn.execute("UPDATE hub_returns SET state = 'closed', closed_at = ?, outcome = ?, grades = ?, reason ="
                     " COALESCE(reason, ?) WHERE rma_id = ? AND state <> 'closed'",
                     (at, _text(p.get("outcome")) or "", json.dumps({g: _count(grades.get(g)) for g in GRADES}),
                      reason, rma_id))


def overview(conn: Conn, rmas: list[dict[str, Any]], now: datetime, alert_after_h: float) -> dict[str, Any]:
    """The dashboard's returns panel from the hub's table and the WMS's RMAs (``rmas``, the reference mirror)."""
    rows = {r["rma_id"]: r for r in conn.execute("SELECT * FROM hub_returns ORDER BY received_at DESC")}
    announced = {r["rma_id"]: r for r in rmas if isinstance(r.get("rma_id"), str)}
    horizon = now - timedelta(hours=alert_after_h)
    waiting, in_progress, closed = [], [], []
    for rma_id, rma in sorted(announced.items()):
        if rma_id in rows or rma.get("status") in ("refunded", "review"):
            continue
        waiting.append({"rma_id": rma_id, "order_id": rma.get("order_id"), "reason": rma.get("reason"),
                        "announced_at": rma.get("announced_at"), "age_h": _hours(rma.get("announced_at"), now),
                        "overdue": _before(rma.get("announced_at"), horizon)})
    grades: Counter[str] = Counter()
    minutes: list[float] = []
    for row in rows.values():
        rma = announced.get(row["rma_id"], {})
        shown = {**row, "grades": json.loads(row.get("grades") or "{}"), "announced_at": rma.get("announced_at")}
        if row["state"] == "closed":
            taken = (parse_iso(row["closed_at"]) - parse_iso(row["received_at"])).total_seconds() / 60
            shown["processing_min"] = round(taken, 1)
            shown["total_h"] = _hours(rma.get("announced_at"), parse_iso(row["closed_at"]))
            minutes.append(taken)
            grades.update({g: n for g, n in shown["grades"].items() if n})
            closed.append(shown)
        else:
            shown["age_h"] = _hours(rma.get("announced_at") or row["received_at"], now)
            shown["overdue"] = _before(rma.get("announced_at") or row["received_at"], horizon)
            in_progress.append(shown)
    reasons = Counter(str(r.get("reason") or "unspecified") for r in announced.values())
    for rma_id, row in rows.items():  # a return the hub saw before (or without) its RMA
        if rma_id not in announced:
            reasons[str(row.get("reason") or "unspecified")] += 1
    return {"waiting": waiting, "in_progress": in_progress, "closed": closed[:50],
            "overdue": [r for r in waiting + in_progress if r.get("overdue")],
            "grades": {g: grades.get(g, 0) for g in GRADES},
            "processing_min": round(sum(minutes) / len(minutes), 1) if minutes else None,
            "top_reasons": [{"reason": r, "count": n} for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))
                            [:TOP]],
            "alert_after_h": alert_after_h}


def _text(value: Any) -> str | None:
    """A text field of a station's payload, as stored (anything else is not kept)."""
    return value[:200] if isinstance(value, str) else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**6 else 0


def _hours(since: Any, until: datetime) -> float | None:
    if not isinstance(since, str):
        return None
    try:
        return round((until - parse_iso(since)).total_seconds() / 3600, 1)
    except ValueError:
        return None


def _before(at: Any, horizon: datetime) -> bool:
    try:
        return isinstance(at, str) and parse_iso(at) < horizon
    except ValueError:
        return False

