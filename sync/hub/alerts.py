"""The alert engine: the rules of ``alert_rules.py`` evaluated on the hub's clock, each finding sent once per
(rule, subject) through the dispatcher (``dispatch.py``, the machinery of escalations), shown on the dashboard,
acknowledged by a supervisor and audited. Scheduled reports are rows of the same table (kind ``report``), sent to
their own channels.

``hub_alerts`` is keyed ``(rule, subject)``: however many hubs evaluate the rules, and however often, a finding is
inserted once (``ON CONFLICT DO NOTHING``) and claimed for sending once; a restarted hub finds it sent. A finding
that must hold for a while first (a queue over its limit for M minutes) is watched in ``hub_alert_watch`` from
when it was first seen; the watch ends when the condition clears, so the next episode is a new subject.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Callable

from packgate.device.clock import Clock, isoformat, parse_iso
from packgate.sync.common.notify import Notifier
from packgate.sync.errors import HubRequestError
from packgate.sync.hub import alert_rules, store
from packgate.sync.hub.alert_rules import Context, Finding, Rule
from packgate.sync.hub.dispatch import Dispatcher, Due
from packgate.sync.hub.engine import Conn, Database

REPORT = "report"


# ---- the table --------------------------------------------------------------------------------------------
def raise_alert(conn: Conn, finding: Finding, now: datetime, due: datetime | None = None) -> bool:
    """Insert the alert (due now, or at ``due``) unless (rule, subject) is known already; True when it is new."""
    row = conn.one("INSERT INTO hub_alerts (rule, subject, kind, title, body, detail, skip, raised_at, due_utc, state)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (rule, subject) DO NOTHING RETURNING rule",
                   (finding.rule, finding.subject, finding.kind, finding.title, finding.body,
                    json.dumps(finding.detail, default=str), ",".join(map(str, finding.skip)), isoformat(now),
                    store.utc(due or now)))
    if row is not None and finding.kind != REPORT:
        store.feed(conn, now, "alert", f"{finding.rule}/{finding.subject}",
                   {"rule": finding.rule, "kind": finding.kind, "subject": finding.subject, "title": finding.title})
    return row is not None


def _watch(conn: Conn, finding: Finding, now: datetime) -> datetime:
    conn.execute("INSERT INTO hub_alert_watch (rule, subject, since_utc) VALUES (?, ?, ?) ON CONFLICT (rule, subject)"
                 " DO NOTHING", (finding.rule, finding.subject, store.utc(now)))
    return parse_iso(str(conn.value("SELECT since_utc FROM hub_alert_watch WHERE rule = ? AND subject = ?",
                                    (finding.rule, finding.subject))))


def record(conn: Conn, found: list[Finding], rules: list[Rule], now: datetime) -> list[str]:
    """Raise what ``found`` holds (a held finding once it has held long enough, as one alert per episode); end the
    watches of conditions no longer found. Returns the ids raised now."""
    raised = []
    held = {(f.rule, f.subject) for f in found if f.hold_min > 0 or f.kind == "queue"}
    for row in conn.execute("SELECT rule, subject FROM hub_alert_watch"):
        if (row["rule"], row["subject"]) not in held:
            conn.execute("DELETE FROM hub_alert_watch WHERE rule = ? AND subject = ?", (row["rule"], row["subject"]))
    for finding in found:
        if (finding.rule, finding.subject) in held:
            since = _watch(conn, finding, now)
            if now - since < timedelta(minutes=finding.hold_min):
                continue
            finding = Finding(finding.rule, finding.kind, f"{finding.subject}@{store.utc(since)}", finding.title,
                              finding.body, {**finding.detail, "since": isoformat(since)}, finding.skip)
        if raise_alert(conn, finding, now):
            raised.append(f"{finding.rule}/{finding.subject}")
    return raised


def _row(row: dict[str, Any]) -> dict[str, Any]:
    state = row["state"]
    if state == "sent" and row.get("channels") == 0:
        state = "not_sent"
    return {"id": f"{row['rule']}/{row['subject']}", "rule": row["rule"], "kind": row["kind"],
            "subject": row["subject"], "title": row["title"], "body": row["body"], "detail": json.loads(row["detail"]),
            "raised_at": row["raised_at"], "state": state, "sent_at": row["sent_at"], "channels": row["channels"],
            "attempts": int(row["attempts"]), "last_error": row["last_error"], "acked_by": row["acked_by"],
            "acked_at": row["acked_at"]}


def listing(conn: Conn, *, open_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    """Alerts (reports left out), the latest first; ``open_only``: not acknowledged."""
    where = " AND acked_at IS NULL" if open_only else ""
    rows = conn.execute(f"SELECT * FROM hub_alerts WHERE kind != '{REPORT}'{where} ORDER BY raised_at DESC,"
                        " rule, subject LIMIT ?", (limit,))
    return [_row(row) for row in rows]


def open_count(conn: Conn) -> int:
    """Alerts not acknowledged (reports left out)."""
    return int(conn.value(f"SELECT COUNT(*) FROM hub_alerts WHERE kind != '{REPORT}' AND acked_at IS NULL") or 0)


def get(conn: Conn, rule: str, subject: str) -> dict[str, Any] | None:
    row = conn.one("SELECT * FROM hub_alerts WHERE rule = ? AND subject = ?", (rule, subject))
    return _row(row) if row else None


def acknowledge(conn: Conn, ident: str, who: str, now: datetime, where: str | None = None) -> bool:
    """``who`` acknowledges the alert ``rule/subject`` (audited once); False when it was acknowledged already."""
    rule, _, subject = ident.partition("/")
    if get(conn, rule, subject) is None or rule == REPORT:
        raise HubRequestError(f"no alert {ident[:120]} on this site", 404)
    rows = conn.execute("UPDATE hub_alerts SET acked_by = ?, acked_at = ? WHERE rule = ? AND subject = ?"
                        " AND acked_at IS NULL RETURNING rule", (who, isoformat(now), rule, subject))
    if rows:
        store.audit(conn, now, who, "acknowledge_alert", ident, None, {"acked": True, **({"at": where} if where else {})})
        store.feed(conn, now, "alert_acked", ident, {"id": ident, "by": who})
    return bool(rows)


class AlertSource:
    """``hub_alerts`` as a dispatcher source: alerts (``reports=False``) or scheduled reports."""

    def __init__(self, reports: bool = False):
        self.where = "kind = 'report'" if reports else "kind != 'report'"

    def recover(self, conn: Conn, now: datetime) -> None:
        conn.execute(f"UPDATE hub_alerts SET state = 'pending' WHERE state = 'sending' AND due_utc < ? AND {self.where}",
                     (store.utc(now),))

    def claim_due(self, conn: Conn, now: datetime, retry_s: float) -> Due | None:
        row = conn.one(f"SELECT rule, subject, title, body, skip FROM hub_alerts WHERE state = 'pending' AND {self.where}"
                       " AND due_utc <= ? ORDER BY due_utc, rule, subject LIMIT 1" + conn.dialect.skip_locked,
                       (store.utc(now),))
        if row is None:
            return None
        conn.execute("UPDATE hub_alerts SET state = 'sending', claimed_at = ?, attempts = attempts + 1, due_utc = ?"
                     " WHERE rule = ? AND subject = ?",
                     (isoformat(now), store.utc(now + timedelta(seconds=retry_s)), row["rule"], row["subject"]))
        ident = f"{row['rule']}/{row['subject']}"
        skip = tuple(int(n) for n in row["skip"].split(",") if n)
        return Due(ident, row["title"], f"id {ident}: {row['body']}", skip,
                   {"rule": row["rule"], "subject": row["subject"]})

    def sent(self, conn: Conn, due: Due, now: datetime, channels: int) -> None:
        conn.execute("UPDATE hub_alerts SET state = 'sent', sent_at = ?, channels = ?, last_error = ? WHERE rule = ?"
                     " AND subject = ?", (isoformat(now), channels, None if channels else store.NO_CHANNEL,
                                          due.data["rule"], due.data["subject"]))

    def failed(self, conn: Conn, due: Due, error: str) -> None:
        conn.execute("UPDATE hub_alerts SET state = 'pending', last_error = ? WHERE rule = ? AND subject = ?",
                     (error, due.data["rule"], due.data["subject"]))


class AlertEngine:
    """``tick()``: evaluate the rules, raise what is new, send what is due (alerts, then reports)."""

    def __init__(self, db: Database, clock: Clock, rules: list[Rule], notifiers: Callable[[], tuple[Notifier, Notifier]],
                 *, station_name: Any = str, retry_s: float = 30.0, senders: int = 8,
                 channels: Callable[[], list[dict[str, Any]]] | None = None):
        """``notifiers()``: the alerts' and the reports' channels as they are now (the escalations' by default)."""
        self.db, self.clock, self.rules = db, clock, rules
        self.notifiers = notifiers
        self.station_name = station_name
        self.channels = channels or (lambda: notifiers()[0].channels())
        self.dispatcher = Dispatcher(db, clock, retry_s=retry_s, senders=senders)
        self.alerts, self.reports = AlertSource(), AlertSource(reports=True)

    def evaluate(self) -> list[str]:
        now = self.clock.now()
        ctx = Context(now, self.station_name, self.channels())

        def run(conn: Conn) -> list[str]:
            return record(conn, alert_rules.findings(conn, self.rules, ctx), self.rules, now)

        return self.db.run(run)

    def tick(self) -> dict[str, list[str]]:
        raised = self.evaluate()
        alert_notifier, report_notifier = self.notifiers()
        return {"raised": raised, "sent": self.dispatcher.tick(self.alerts, alert_notifier),
                "reports": self.dispatcher.tick(self.reports, report_notifier)}
